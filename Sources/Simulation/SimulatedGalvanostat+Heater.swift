import Domain
import Foundation
import Instruments

extension SimulatedGalvanostat {
    /// Whether the simulated rig has a heater (`heater:` in its rig file).
    public nonisolated var controlsTemperature: Bool { heaterConfiguration != nil }

    /// Starts bringing the cell to `setpoint_C`; the temperature follows with the heater's time constant, from the
    /// latest reading's temperature.
    public func setTemperature(_ setpoint_C: Double) async throws {
        guard let configuration = heaterConfiguration else {
            throw InstrumentError(
                .rejected, instrument: name, "the simulated rig has no heater (heater: in its rig file)")
        }
        guard setpoint_C <= configuration.maximumSetpoint_C else {
            throw InstrumentError(
                .rejected, instrument: name,
                "setpoint \(formatNumber(setpoint_C)) C is above the heater's max_setpoint of "
                    + "\(formatNumber(configuration.maximumSetpoint_C)) C")
        }
        startHeating(to: setpoint_C)
    }
}

/// A simulated oven: the cell's temperature approaches the setpoint as a first-order lag.
struct Heater: Sendable {
    let configuration: SimulatedHeater
    var setpoint_C: Double?
    var temperature_C: Double?
    /// Whether the model has been given the setpoint itself, once the temperature reached it.
    var settled = false

    init(configuration: SimulatedHeater) {
        self.configuration = configuration
    }

    /// Moves the temperature on by `interval_s`; returns the temperature to give the cell model, or nil when it has
    /// nothing new to give (no setpoint yet, or settled on it).
    mutating func advance(by interval_s: Double) -> Double? {
        guard let setpoint_C, !settled else { return nil }
        let start = temperature_C ?? setpoint_C
        var next = setpoint_C + (start - setpoint_C) * exp(-interval_s / configuration.timeConstant_s)
        if abs(next - setpoint_C) < 1e-4 {
            next = setpoint_C
            settled = true
        }
        temperature_C = next
        return next
    }
}
