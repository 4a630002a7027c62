import Domain
import Instruments
import Simulation
import Testing

@Suite("Simple simulated cell and in-process galvanostat")
struct OhmicCellTests {
    let configuration = SimulatedCellConfiguration(
        seed: 7, bulkResistance_Ohm_cm2: 100, interfacialResistance_Ohm_cm2: 21, criticalCurrentDensity_mA_cm2: 2,
        shortDelay_s: 10, shortResistance_Ohm: 5, noise_V: 1e-4)

    @Test("below the critical current density the cell is ohmic and never shorts")
    func ohmic() {
        var cell = OhmicCell(configuration: configuration, area_cm2: 0.5)
        let current = -1.9e-3 * 0.5
        var voltages: [Double] = []
        for _ in 0..<1000 { voltages.append(cell.advance(by: 1, current_A: current).voltage_V) }
        let mean = voltages.reduce(0, +) / Double(voltages.count)
        #expect(abs(mean - current * cell.intactResistance_Ohm) < 2e-5)
        #expect(cell.groundTruth.isEmpty)
    }

    @Test("at the critical current density the short starts after the delay and collapses the voltage")
    func shorts() throws {
        var cell = OhmicCell(configuration: configuration, area_cm2: 0.5)
        let current = -2e-3 * 0.5
        var readings: [CellReading] = []
        for _ in 0..<40 { readings.append(cell.advance(by: 1, current_A: current)) }
        let truth = try #require(cell.groundTruth.first)
        #expect(truth.kind == .hardShort)
        #expect(truth.time_s == 10)
        #expect(abs(truth.currentDensity_mA_cm2 - 2) < 1e-9)
        #expect(abs(readings[5].voltage_V) > 0.2)
        #expect(abs(readings[39].voltage_V) < 0.01)
    }

    @Test("the same seed repeats the same readings; another seed differs")
    func seeds() {
        func run(seed: UInt64) -> [Double] {
            var configuration = configuration
            configuration.seed = seed
            var cell = OhmicCell(configuration: configuration, area_cm2: 0.5)
            return (0..<100).map { _ in cell.advance(by: 1, current_A: 1e-4).voltage_V }
        }
        #expect(run(seed: 1) == run(seed: 1))
        #expect(run(seed: 1) != run(seed: 2))
    }

    @Test("the galvanostat refuses currents above the rig's limit and clips at its compliance")
    func limits() async throws {
        let cell = OhmicCell(configuration: configuration, area_cm2: 0.5)
        let galvanostat = SimulatedGalvanostat(model: cell, speed: .unlimited)
        try await galvanostat.configure(samplingInterval_s: 1, limits: HardwareLimits(voltage_V: 0.1, current_A: 1e-3))
        await #expect(throws: InstrumentError.self) { try await galvanostat.applyCurrent(2e-3) }
        try await galvanostat.applyCurrent(1e-3)
        let sample = try await galvanostat.nextSample()
        #expect(sample.voltage_V == 0.1, "242 Ohm * 1 mA = 0.24 V exceeds the 0.1 V compliance")
        #expect(sample.time_s == 1)
        try await galvanostat.openCircuit()
        #expect(try await galvanostat.nextSample().current_A == 0)
        #expect(await galvanostat.producedSampleCount == 2)
    }

    @Test("driving before configuring is refused")
    func notConfigured() async {
        let galvanostat = SimulatedGalvanostat(
            model: OhmicCell(configuration: configuration, area_cm2: 1), speed: .unlimited)
        await #expect(throws: InstrumentError.self) { try await galvanostat.applyCurrent(1e-6) }
    }
}
