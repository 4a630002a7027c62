import Domain
import Foundation
import Instruments
import Simulation
import Testing

@Suite("The simulated rig's heater")
struct SimulatedHeaterTests {
    /// A quiet Li|LPSCl|Li cell at 25 C on a galvanostat with a heater of time constant 300 s, read every 10 s.
    func heatedGalvanostat() async throws -> SimulatedGalvanostat {
        var parameters = PhysicsCellParameters.lithiumArgyrodite.withoutNoise
        parameters.temperature_C = 25
        let galvanostat = SimulatedGalvanostat(
            model: PhysicsCell(parameters: parameters), speed: .unlimited,
            heater: SimulatedHeater(maximumSetpoint_C: 120, timeConstant_s: 300))
        try await galvanostat.configure(samplingInterval_s: 10, limits: HardwareLimits(voltage_V: 5, current_A: 0.05))
        return galvanostat
    }

    @Test("the cell's temperature follows a setpoint as a first-order lag, and comes back when it is lowered")
    func firstOrderLag() async throws {
        let galvanostat = try await heatedGalvanostat()
        #expect(galvanostat.controlsTemperature)
        #expect(try await galvanostat.nextSample().temperature_C == 25)
        try await galvanostat.setTemperature(80)
        var readings: [Double] = []
        for _ in 0..<300 { readings.append(try #require(try await galvanostat.nextSample().temperature_C)) }
        #expect(zip(readings, readings.dropFirst()).allSatisfy { $0 < $1 || $1 == 80 }, "rises without overshoot")
        // After one time constant (30 readings of 10 s) the cell has covered 1 - 1/e of the 55 C step.
        #expect(abs(readings[29] - (80 - 55 * exp(-1))) < 0.01, "\(readings[29])")
        #expect(abs(readings.last! - 80) < 0.01, "ten time constants later it is there")
        try await galvanostat.setTemperature(25)
        for _ in 0..<30 { _ = try await galvanostat.nextSample() }
        let cooled = try #require(try await galvanostat.nextSample().temperature_C)
        #expect(cooled > 25 && cooled < 80 - 55 * (1 - exp(-1)) + 0.1, "\(cooled)")
    }

    @Test("a setpoint given before any reading starts from the cell's temperature, not at the setpoint")
    func firstSetpointStartsFromTheCell() async throws {
        let galvanostat = try await heatedGalvanostat()
        try await galvanostat.setTemperature(80)
        let first = try #require(try await galvanostat.nextSample().temperature_C)
        // One 10 s reading into a 300 s lag from 25 C: 25 + 55 (1 - e^(-1/30)).
        #expect(abs(first - (80 - 55 * exp(-1.0 / 30))) < 0.01, "\(first)")
    }

    @Test("the heater goes on during an impedance spectrum: the next reading is as warm as the spectrum was long")
    func heaterMovesDuringASpectrum() async throws {
        let galvanostat = try await heatedGalvanostat()
        try await galvanostat.setTemperature(80)
        let before = try await galvanostat.nextSample()
        let spectrum = try await galvanostat.measureImpedance(
            ImpedanceSettings(
                control: .potentiostatic, startFrequency_Hz: 1e5, endFrequency_Hz: 0.01, pointsPerDecade: 5,
                amplitude: 0.01))
        let after = try await galvanostat.nextSample()
        let elapsed_s = after.time_s - before.time_s
        #expect(elapsed_s > 300, "a spectrum down to 10 mHz takes minutes: \(elapsed_s) s, \(spectrum.count) points")
        let start = try #require(before.temperature_C)
        let expected = 80 - (80 - start) * exp(-elapsed_s / 300)
        #expect(abs((after.temperature_C ?? 0) - expected) < 0.5, "\(after.temperature_C ?? .nan) C, \(expected) C")
    }

    @Test("the cell's kinetics follow its temperature: the same current needs less overpotential when hot")
    func kineticsFollowTheTemperature() async throws {
        let galvanostat = try await heatedGalvanostat()
        try await galvanostat.applyCurrent(1e-4)
        for _ in 0..<30 { _ = try await galvanostat.nextSample() }
        let cold = try await galvanostat.nextSample().voltage_V
        try await galvanostat.setTemperature(80)
        for _ in 0..<200 { _ = try await galvanostat.nextSample() }
        let hot = try await galvanostat.nextSample().voltage_V
        #expect(abs(hot) < 0.8 * abs(cold), "cold \(cold) V, hot \(hot) V")
    }

    @Test("a setpoint above the heater's maximum, or on a rig without a heater, is refused")
    func refusals() async throws {
        let galvanostat = try await heatedGalvanostat()
        await #expect(throws: InstrumentError.self) { try await galvanostat.setTemperature(121) }
        let unheated = SimulatedGalvanostat(
            model: PhysicsCell(parameters: .lithiumArgyrodite), speed: .unlimited)
        #expect(!unheated.controlsTemperature)
        await #expect(throws: InstrumentError.self) { try await unheated.setTemperature(30) }
    }
}
