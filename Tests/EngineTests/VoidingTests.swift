import Domain
import Engine
import ProtocolFiles
import Simulation
import TestSupport
import Testing

@Suite("voiding on the K preset's three-electrode stripping series (protocols/stripping-3e.yaml)")
struct VoidingTests {
    /// Runs the shipped stripping protocol at a current density on a simulated three-electrode K cell.
    func strippingSeries(_ density: String) throws -> (events: [RunEvent], engine: RunEngine) {
        let run = try runShippedProtocol(
            "protocols/stripping-3e.yaml", parameters: ["current_density": density],
            cell: try PhysicsCell(preset: "k-beta-alumina", overrides: ["threeElectrode": 1]),
            context: RunContext(metal: .k, metalThickness_um: 300))
        return (run.events, run.engine)
    }

    @Test("voiding is flagged at 3 mA/cm2, in the first strip")
    func voidsAtThree() throws {
        let (events, engine) = try strippingSeries("3 mA/cm2")
        #expect(engine.outcome?.state == .completed, "voiding warns; the test runs its 25 cycles")
        let results = RunResults(events: events, plan: engine.plan)
        let atThree = try #require(results.voiding.first)
        #expect(atThree.currentDensity_mA_cm2 == 3)
        #expect(atThree.strippingSteps == 25)
        #expect(atThree.voided)
        let first = try #require(atThree.firstVerdict)
        #expect(first.action == .warn)
        #expect(first.evidence["cycle"] == 1)
        #expect(first.evidence["rise_V"]! >= first.evidence["rise_threshold_V"]!)
    }

    @Test("voiding is not flagged at 1 mA/cm2")
    func noVoidingAtOne() throws {
        let (events, engine) = try strippingSeries("1 mA/cm2")
        #expect(engine.outcome?.state == .completed)
        let results = RunResults(events: events, plan: engine.plan)
        #expect(results.voiding.map(\.currentDensity_mA_cm2) == [1])
        #expect(results.voiding.first?.voided == false)
        #expect(!events.contains { $0.verdict?.criterion == "voiding" })
    }

    /// Two stripping cycles (0.5 mAh/cm2 each way) at a current density on a three-electrode Li | LPSCl cell, whose
    /// WE-RE polarisation is about 1 mV: voiding shows as a rise to some 16 mV, never 20 mV.
    func lithiumStripping(_ density_mA_cm2: Double) throws -> [Verdict] {
        let text = """
            schema: 1
            name: lpscl-stripping
            three_electrode: true
            sampling_interval: 1 s
            steps:
              - loop:
                  cycles: 2
                  current: \(density_mA_cm2) mA/cm2
                  steps:
                    - plate: {capacity: 0.5 mAh/cm2}
                    - strip: {capacity: 0.5 mAh/cm2, voltage_limit: 1 V}
            stop:
              - voiding: {action: warn}
            """
        let run = try runProtocol(
            try ProtocolFile.parse(text, file: "lpscl-stripping"),
            cell: try PhysicsCell(preset: "li-lpscl", overrides: ["threeElectrode": 1]), context: RunContext())
        return run.events.compactMap(\.verdict).filter { $0.criterion == "voiding" }
    }

    @Test("a slow voiding rise of a few mV on the Li-LPSCl preset is flagged in the first strip, not without voiding")
    func lithiumVoiding() throws {
        // The preset voids above 0.2 mA/cm2 at 3 MPa, about 0.33 at its 5 MPa.
        let voiding = try lithiumStripping(0.55)
        let first = try #require(voiding.first)
        #expect(first.evidence["cycle"] == 1)
        #expect(first.evidence["test"] == Double(VoidingCriterion.Test.rise.rawValue))
        let rise = try #require(first.evidence["rise_V"])
        #expect(rise < 0.02, "found by the relative threshold, below the absolute 20 mV")
        #expect(rise >= first.evidence["rise_threshold_V"]! && rise >= first.evidence["min_rise_V"]!)
        #expect(try lithiumStripping(0.15).isEmpty)
    }

    @Test("a flat, noisy polarisation sampled every 0.1 s is not taken for a rise towards the voltage limit")
    func noisyStripsWithoutVoiding() throws {
        // Half the K preset's voiding current, 200 uV of noise: just after `settle` the history holds a few closely
        // spaced samples, and a slope fitted to their noise would reach the voltage limit within the horizon.
        let text = """
            schema: 1
            name: k-stripping
            three_electrode: true
            sampling_interval: 0.1 s
            steps:
              - loop:
                  cycles: 3
                  current: 0.95 mA/cm2
                  steps:
                    - plate: {capacity: 0.5 mAh/cm2}
                    - strip: {capacity: 0.5 mAh/cm2, voltage_limit: 1 V}
            stop:
              - voiding: {action: warn}
            """
        let cell = try PhysicsCell(
            preset: "k-beta-alumina",
            overrides: ["threeElectrode": 1, "seed": 24, "voltageNoise_V": 2e-4, "voltageSpikeProbability": 0])
        let run = try runProtocol(
            try ProtocolFile.parse(text, file: "k-stripping"), cell: cell,
            context: RunContext(metal: .k, metalThickness_um: 300))
        #expect(!run.cell.groundTruth.contains { $0.kind == .voidingOnset })
        let verdicts = run.events.compactMap(\.verdict).filter { $0.criterion == "voiding" }
        #expect(verdicts.isEmpty, "\(verdicts.map(\.reason))")
    }
}
