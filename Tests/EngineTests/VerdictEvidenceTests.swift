import Domain
import Engine
import Foundation
import Testing

@Suite("criteria never put a non-finite number in a verdict and never fault a run")
struct VerdictEvidenceTests {
    /// Three strips at the same current: two at 10 mV, the third at 100 mV from its first sample.
    func growthAfterThreeSamples() -> (verdict: Verdict?, engine: RunEngine) {
        let steps = (0..<3).map { index in
            PlannedStep(
                index: index, cycle: index + 1, stepInCycle: 1, kind: .strip, current_A: 1e-3,
                currentDensity_mA_cm2: 2, durationLimit_s: 100)
        }
        let criterion = VoidingCriterion(
            settings: .init(
                during: .strip, action: .warn, rise_V: 0.02, growth_V: 0.03, horizon_s: 600, settle_s: 0,
                limit_V: nil))
        var engine = RunEngine(
            plan: StepPlan(steps: steps, area_cm2: 0.5), threeElectrode: false, criteria: [criterion])
        _ = engine.start(at: 0)
        var time_s = 0.0
        for step in 0..<3 {
            for index in 1...100 {
                time_s += 1
                let voltage = step < 2 ? 0.010 : 0.100
                let output = engine.ingest(InstrumentSample(time_s: time_s, current_A: 1e-3, voltage_V: voltage))
                if step == 2, let verdict = output.events.compactMap(\.verdict).first {
                    #expect(index == 3, "the growth test needs three samples of the strip")
                    return (verdict, engine)
                }
            }
        }
        return (nil, engine)
    }

    @Test("a voiding verdict from three samples has finite evidence, encodes as JSON, and the run goes on")
    func voidingFromThreeSamples() throws {
        var (found, engine) = growthAfterThreeSamples()
        let verdict = try #require(found)
        #expect(verdict.action == .warn)
        #expect(verdict.evidence.values.allSatisfy { $0.isFinite })
        #expect(verdict.undefinedEvidence.isEmpty, "nothing non-finite was given: \(verdict.undefinedEvidence)")
        #expect(verdict.evidence["noise_V"] == nil, "the noise is not known from three samples")
        // The evidence dictionary as `cellrig replay --json` and the control API encode it.
        _ = try JSONEncoder().encode(verdict.evidence)
        _ = try JSONEncoder().encode(verdict)
        #expect(!engine.isFinished)
        // The strip began at 200 s and runs 100 s: the next sample is still in it.
        let output = engine.ingest(InstrumentSample(time_s: 204, current_A: 1e-3, voltage_V: 0.1))
        #expect(output.recorded != nil)
        #expect(!engine.isFinished, "a warning never ends the run")
        found = nil
    }

    @Test("a sample with a non-finite voltage is not judged: one warning per step, no stop, later samples judged")
    func nonFiniteSample() throws {
        let step = PlannedStep(
            index: 0, cycle: 1, stepInCycle: 1, kind: .plate, current_A: -1e-3, currentDensity_mA_cm2: 2,
            durationLimit_s: 1000)
        let criteria: [any StopCriterion] = [
            DendriteShortCriterion(
                settings: .init(during: .plate, minimumDrop_V: 3e-4, memory_s: 60, noiseFloor_V: 1e-5)),
            HardShortCriterion(during: .plate, electrolyteResistance_Ohm_cm2: 50, threshold_Ohm_cm2: nil),
            VoidingCriterion(
                settings: .init(
                    during: .both, action: .warn, rise_V: 0.02, growth_V: 0.03, horizon_s: 600, settle_s: 30,
                    limit_V: nil)),
        ]
        var engine = RunEngine(plan: StepPlan(steps: [step], area_cm2: 0.5), threeElectrode: false, criteria: criteria)
        _ = engine.start(at: 0)
        var verdicts: [Verdict] = []
        for index in 1...400 {
            let voltage = index == 200 || index == 250 ? Double.nan : -0.3 - 1e-5 * Double(index % 3)
            let output = engine.ingest(InstrumentSample(time_s: Double(index), current_A: -1e-3, voltage_V: voltage))
            verdicts += output.events.compactMap(\.verdict)
        }
        #expect(!engine.isFinished)
        #expect(verdicts.allSatisfy { $0.action == .warn })
        #expect(Set(verdicts.map(\.criterion)) == ["dendrite-short", "hard-short", "voiding"])
        #expect(verdicts.count == 3, "one warning per criterion and step: \(verdicts.map(\.reason))")
        for verdict in verdicts {
            #expect(verdict.time_s.isFinite)
            _ = try JSONEncoder().encode(verdict)
        }
    }
}
