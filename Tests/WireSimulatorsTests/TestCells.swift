import Domain
import Simulation

/// A resistor in series with a constant open-circuit voltage: V = OCV + I R. Deterministic, no failures.
struct OhmicCell: CellModel {
    var resistance_Ohm: Double
    var openCircuitVoltage_V = 0.0
    var time_s = 0.0
    var groundTruth: [GroundTruthEvent] { [] }

    /// A pure resistor: the same real impedance at every frequency.
    func impedance(atFrequencies frequencies_Hz: [Double]) -> [Complex] {
        frequencies_Hz.map { _ in Complex(real: resistance_Ohm) }
    }

    mutating func advance(by interval_s: Double, current_A: Double) -> CellReading {
        time_s += interval_s
        return CellReading(
            time_s: time_s, current_A: current_A, voltage_V: openCircuitVoltage_V + current_A * resistance_Ohm)
    }
}
