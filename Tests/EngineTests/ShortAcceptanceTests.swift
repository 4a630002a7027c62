import Domain
import Engine
import Foundation
import ProtocolFiles
import TestSupport
import Testing

/// A synthetic run through the stop criteria of a shipped protocol: planned galvanostatic steps, |V| given as a
/// function of the step and the time into it, with seeded white noise and the instrument's quantisation.
struct SyntheticRun {
    struct Step {
        var platesWE: Bool
        var density_mA_cm2: Double
        var duration_s: Double
    }

    var protocolPath = "protocols/ccd-step-symmetric.yaml"
    var steps: [Step]
    var interval_s = 1.0
    var area_cm2 = 0.196
    var noise_V = 5e-5
    var resolution_V = 0.0
    var context = RunContext()
    /// |V| at `since` seconds into step `index`.
    var magnitude: @Sendable (_ index: Int, _ since: Double) -> Double

    /// Every verdict the criteria gave (warnings included) and the outcome.
    func run() throws -> (verdicts: [Verdict], outcome: RunOutcome?, engine: RunEngine) {
        let shipped = try ProtocolFile.parse(
            try TestSupport.readRepositoryFile(protocolPath), file: protocolPath)
        let context = context.completed(with: shipped.conditions)
        let criteria = try shipped.stopCriteria.map { try CriterionFactory.make($0, context: context) }
        let planned = steps.enumerated().map { index, step in
            PlannedStep(
                index: index, cycle: index / 2 + 1, stepInCycle: index % 2 + 1, kind: step.platesWE ? .plate : .strip,
                current_A: (step.platesWE ? -1 : 1) * step.density_mA_cm2 * area_cm2 / 1000,
                currentDensity_mA_cm2: step.density_mA_cm2, durationLimit_s: step.duration_s)
        }
        var engine = RunEngine(
            plan: StepPlan(steps: planned, area_cm2: area_cm2), threeElectrode: shipped.threeElectrode,
            criteria: criteria, context: context)
        var verdicts: [Verdict] = []
        var random = NormalDeviates(seed: 7)
        var current_A = 0.0
        func apply(_ output: EngineOutput) {
            verdicts += output.events.compactMap { $0.kind == .verdict ? $0.verdict : nil }
            for command in output.commands { current_A = command.cellCurrent(after: current_A) }
        }
        apply(engine.start(at: 0))
        var time_s = 0.0
        while !engine.isFinished, let record = engine.currentStep {
            time_s += interval_s
            let since = time_s - record.startTime_s
            var value = (current_A < 0 ? -1 : 1) * magnitude(record.step.index, since) + noise_V * random.next()
            if resolution_V > 0 { value = (value / resolution_V).rounded() * resolution_V }
            apply(engine.ingest(InstrumentSample(time_s: time_s, current_A: current_A, voltage_V: value)))
        }
        return (verdicts, engine.outcome, engine)
    }
}

/// Gaussian deviates from a fixed linear-congruential source (the sum of twelve uniforms).
struct NormalDeviates {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> Double {
        var sum = 0.0
        for _ in 0..<12 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            sum += Double(state >> 11) / Double(1 << 53)
        }
        return sum - 6
    }
}

@Suite("the shipped CCD protocols' short criteria on the issue's hard cases")
struct ShortAcceptanceTests {
    /// A first cycle at 0.05 mA/cm2: each electrode's first plating starts at 800 mV and relaxes to a stable 4 mV
    /// over about half an hour.
    static func nucleationCycle(stretched: Bool) -> @Sendable (Int, Double) -> Double {
        { _, since in
            let transient =
                stretched ? exp(-pow(since / 240, 0.5)) : pow(1 + since / 15, -1.4)
            return 0.004 + 0.796 * transient
        }
    }

    @Test(
        "a 30-minute nucleation transient at 0.05 mA/cm2 stops nothing, at 0.1, 1 and 10 s sampling",
        arguments: [(0.1, false), (1.0, false), (10.0, false), (1.0, true), (10.0, true)])
    func longNucleation(interval_s: Double, stretched: Bool) throws {
        let magnitude = Self.nucleationCycle(stretched: stretched)
        // The transient is still 10 times its settled value 10 s in, and twice it after 20 min.
        #expect(magnitude(0, 10) > 10 * 0.004 && magnitude(0, 1200) > 0.0048)
        let run = SyntheticRun(
            steps: [
                .init(platesWE: true, density_mA_cm2: 0.05, duration_s: 3600),
                .init(platesWE: false, density_mA_cm2: 0.05, duration_s: 3600),
            ],
            interval_s: interval_s, magnitude: magnitude)
        let (verdicts, outcome, _) = try run.run()
        #expect(outcome?.state == .completed, "\(outcome?.reason ?? "")")
        #expect(!verdicts.contains { $0.action == .stop }, "\(verdicts.map(\.reason))")
    }

    @Test(
        "a short that takes 10 minutes to fall to 0 V is stopped after it begins and long before it is complete",
        arguments: [0.1, 1.0, 10.0])
    func tenMinuteShort(interval_s: Double) throws {
        let onset_s = 1200.0
        // Two settled steps at the CCD (40 mV), the second one shorting: |V| falls linearly to 0 over 10 minutes.
        let run = SyntheticRun(
            steps: [
                .init(platesWE: true, density_mA_cm2: 1, duration_s: 1800),
                .init(platesWE: false, density_mA_cm2: 1, duration_s: 1800),
                .init(platesWE: true, density_mA_cm2: 1, duration_s: 1800),
            ],
            interval_s: interval_s
        ) { index, since in
            let settled = 0.040 + 0.010 * exp(-since / 20)
            guard index == 2, since > onset_s else { return settled }
            return settled * max(0, 1 - (since - onset_s) / 600)
        }
        let (verdicts, outcome, _) = try run.run()
        let stop = try #require(verdicts.first { $0.action == .stop }, "no stop")
        let onset = 3600 + onset_s
        #expect(stop.time_s > onset, "\(stop.reason)")
        #expect(stop.time_s < onset + 360, "stopped \(stop.time_s - onset) s after the onset: \(stop.reason)")
        #expect(outcome?.state == .stopped)
        #expect(outcome?.ccd_mA_cm2 == 1)
    }

    @Test("0.1 mV-quantised healthy data at 1 s, quieter than one step, stops nothing")
    func quantisedHealthy() throws {
        // A CCD-like sequence: 0.05 mA/cm2 with a slow nucleation, then steps from 0.5 to 1.2 mA/cm2 with a
        // relaxation after each reversal; noise 30 uV read to 0.1 mV (most readings repeat, some flick by a step).
        var steps: [SyntheticRun.Step] = [
            .init(platesWE: true, density_mA_cm2: 0.05, duration_s: 2400),
            .init(platesWE: false, density_mA_cm2: 0.05, duration_s: 2400),
        ]
        for density in stride(from: 0.5, through: 1.2, by: 0.1) {
            steps += [
                .init(platesWE: true, density_mA_cm2: density, duration_s: 600),
                .init(platesWE: false, density_mA_cm2: density, duration_s: 600),
            ]
        }
        let densities = steps.map(\.density_mA_cm2)
        let run = SyntheticRun(
            steps: steps, interval_s: 1, noise_V: 3e-5, resolution_V: 1e-4
        ) { index, since in
            let density = densities[index]
            let level = 0.004 * density / 0.05 * (density < 0.1 ? 1 : 0.5)
            let nucleation = index < 2 ? 0.3 * exp(-pow(since / 200, 0.5)) : 0.02 * level * exp(-since / 30)
            return level * (1 - 0.2 * exp(-since / 8)) + nucleation + 0.0002 * sin(since / 400)
        }
        let (verdicts, outcome, _) = try run.run()
        #expect(outcome?.state == .completed, "\(outcome?.reason ?? "")")
        #expect(!verdicts.contains { $0.action == .stop }, "\(verdicts.map(\.reason))")
    }
}
