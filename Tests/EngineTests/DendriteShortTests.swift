import Domain
import Engine
import Foundation
import Testing

/// A plating signal: a level, a decaying nucleation transient after the step start, optional Gaussian noise from a
/// fixed linear-congruential source, optional spikes and an optional fall that begins at `onset_s`.
struct SyntheticPlating {
    var level_V = 0.3
    var nucleation_V = 0.03
    var nucleationTime_s = 2.0
    var relaxation_V = 0.01
    var relaxationTime_s = 4.0
    var noise_V = 5e-5
    var drift_V_per_s = 0.0
    /// Step time after which the drift stops and |V| stays level (a rise that levels off).
    var plateau_s = Double.infinity
    var spikes: [Int: Double] = [:]
    var onset_s: Double?
    /// Fall after the onset: |V| loses `fall_V * sqrt(t - onset)` plus `linearFall_V_per_s * (t - onset)`.
    var fall_V_per_sqrt_s = 0.003
    var linearFall_V_per_s = 0.0
    var state: UInt64 = 12345

    mutating func gaussian() -> Double {
        var sum = 0.0
        for _ in 0..<12 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            sum += Double(state >> 11) / Double(1 << 53)
        }
        return sum - 6
    }

    /// |V| at `time_s` into the step, for sample number `index`.
    mutating func magnitude(at time_s: Double, index: Int) -> Double {
        let nucleation = nucleation_V * exp(-time_s / nucleationTime_s)
        let relaxation = relaxation_V * exp(-time_s / relaxationTime_s)
        var value = level_V + nucleation - relaxation + drift_V_per_s * min(time_s, plateau_s)
        value += noise_V * gaussian()
        if let onset_s, time_s > onset_s {
            value -= fall_V_per_sqrt_s * (time_s - onset_s).squareRoot() + linearFall_V_per_s * (time_s - onset_s)
        }
        return value + (spikes[index] ?? 0)
    }
}

@Suite("dendrite-short: model-based change-point test on plating steps")
struct DendriteShortTests {
    static let settings = DendriteShortCriterion.Settings(
        during: .plate, minimumDrop_V: 3e-4, memory_s: 60, noiseFloor_V: 1e-5)

    /// Runs one plating step of `count` samples through the engine; returns the stop verdict, if any.
    func runStep(_ signal: SyntheticPlating, interval_s: Double = 1, count: Int = 600) -> Verdict? {
        var signal = signal
        let plan = [
            PlannedStep(
                index: 0, cycle: 1, stepInCycle: 1, kind: .plate, current_A: -1e-3, currentDensity_mA_cm2: 4.8,
                durationLimit_s: Double(count) * interval_s + 1)
        ]
        var engine = RunEngine(
            plan: StepPlan(steps: plan, area_cm2: 0.2), threeElectrode: false,
            criteria: [DendriteShortCriterion(settings: Self.settings)])
        _ = engine.start(at: 0)
        for index in 1...count {
            let time = Double(index) * interval_s
            let sample = InstrumentSample(
                time_s: time, current_A: -1e-3, voltage_V: -signal.magnitude(at: time, index: index))
            if let outcome = engine.ingest(sample).outcome { return outcome.verdict }
        }
        return nil
    }

    /// Runs `steps` plating steps of `count` samples each; the first ones carry `signal` without its spikes and
    /// fall, the last one all of it. Returns the stop verdict and the step it came in, if any.
    func runSteps(_ signal: SyntheticPlating, steps: Int, interval_s: Double, count: Int) -> (Verdict, Int)? {
        var quiet = signal
        quiet.spikes = [:]
        quiet.onset_s = nil
        var last = signal
        let duration = Double(count) * interval_s
        let plan = (0..<steps).map { index in
            PlannedStep(
                index: index, cycle: index + 1, stepInCycle: 1, kind: .plate, current_A: -1e-3,
                currentDensity_mA_cm2: 4.8, durationLimit_s: duration + interval_s / 2)
        }
        var engine = RunEngine(
            plan: StepPlan(steps: plan, area_cm2: 0.2), threeElectrode: false,
            criteria: [DendriteShortCriterion(settings: Self.settings)])
        _ = engine.start(at: 0)
        for step in 0..<steps {
            for index in 1...count {
                let since = Double(index) * interval_s
                let time = Double(step) * (duration + interval_s) + since
                let magnitude =
                    step == steps - 1
                    ? last.magnitude(at: since, index: index) : quiet.magnitude(at: since, index: index)
                let sample = InstrumentSample(time_s: time, current_A: -1e-3, voltage_V: -magnitude)
                if let outcome = engine.ingest(sample).outcome {
                    if let verdict = outcome.verdict { return (verdict, step) }
                }
            }
        }
        return nil
    }

    @Test("two upward spikes in a row, whose return looks like two falls, do not trip it at fine sampling")
    func backToBackUpwardSpikes() {
        var signal = SyntheticPlating()
        signal.noise_V = 2e-5
        signal.spikes = [150: 0.005, 151: 0.004, 260: 0.004, 261: 0.005]
        #expect(runSteps(signal, steps: 3, interval_s: 1, count: 300) == nil)
    }

    @Test(
        "once the run has shown an isolated spike, two downward spikes in a row do not trip it",
        arguments: [(1.0, 600, 100), (0.1, 3000, 1000)])
    func twoDownwardSpikesInARow(interval_s: Double, count: Int, first: Int) {
        var signal = SyntheticPlating()
        signal.noise_V = 2e-5
        signal.spikes = [first: 0.004, 2 * first: -0.005, 2 * first + 1: -0.004]
        #expect(runSteps(signal, steps: 2, interval_s: interval_s, count: count) == nil)
    }

    @Test("a rise that levels off is not a fall, however far its trend would have run", arguments: [1.0, 10.0])
    func riseThatLevelsOff(interval_s: Double) {
        var signal = SyntheticPlating()
        signal.drift_V_per_s = 7e-5
        signal.plateau_s = 300 * interval_s + interval_s / 2
        let count = 600
        #expect(runSteps(signal, steps: 2, interval_s: interval_s, count: count) == nil)
        signal.noise_V = 2e-4
        #expect(runSteps(signal, steps: 2, interval_s: interval_s, count: count) == nil)
    }

    @Test("a fall during a rising trend is still found within three samples")
    func fallDuringRise() throws {
        var signal = SyntheticPlating()
        signal.drift_V_per_s = 7e-5
        signal.onset_s = 400.5
        let (verdict, step) = try #require(runSteps(signal, steps: 2, interval_s: 1, count: 600))
        #expect(step == 1)
        #expect(verdict.time_s > 601 + 400.5 && verdict.time_s <= 601 + 403)
    }

    @Test("at fine sampling, models that predicted the run badly do not widen the spread long after the step start")
    func spreadAfterTheStepStart() throws {
        // Transients whose time constants lie between the bank's: its worst models misfit them for a long time.
        var signal = SyntheticPlating()
        signal.nucleation_V = 0.1
        signal.nucleationTime_s = 3
        signal.relaxation_V = 0.02
        signal.relaxationTime_s = 12
        signal.noise_V = 2e-5
        var criterion = DendriteShortCriterion(settings: Self.settings)
        var latest: DendriteShortCriterion.Diagnostics?
        for index in 0..<3 {
            let step = PlannedStep(
                index: index, cycle: index + 1, stepInCycle: 1, kind: .plate, current_A: -1e-3,
                currentDensity_mA_cm2: 4.8, durationLimit_s: 150)
            let start = Double(index) * 150
            var context = StepContext(step: step, startTime_s: start, area_cm2: 0.2, threeElectrode: false)
            criterion.stepStarted(context)
            for sample in 1...1000 {
                context.elapsed_s = Double(sample) * 0.1
                context.sampleCount = sample
                let reading = InstrumentSample(
                    time_s: start + context.elapsed_s, current_A: -1e-3,
                    voltage_V: -signal.magnitude(at: context.elapsed_s, index: sample))
                #expect(criterion.evaluate(reading, context: context) == nil)
            }
            latest = criterion.latest
        }
        let diagnostics = try #require(latest)
        #expect(diagnostics.judged)
        #expect(
            diagnostics.spread_V < 3 * diagnostics.noise_V,
            "spread \(diagnostics.spread_V), noise \(diagnostics.noise_V), disagreement \(diagnostics.disagreement_V)")
    }

    @Test("a slow fall, a fraction of the noise per sample, is found at fine sampling")
    func slowFallInNoise() throws {
        var signal = SyntheticPlating()
        signal.noise_V = 2e-4
        signal.onset_s = 100.05
        signal.fall_V_per_sqrt_s = 0
        signal.linearFall_V_per_s = 4.5e-4
        // Known gap (issue 10): at 0.1 s a steady 0.45 mV/s fall in 0.2 mV noise is absorbed by the models' trend and
        // is too slow for the total-fall test within 50 s.
        withKnownIssue("a slow steady fall at 0.1 s is followed by the models' trend") {
            let (verdict, step) = try #require(runSteps(signal, steps: 2, interval_s: 0.1, count: 1500))
            #expect(step == 1)
            #expect(verdict.time_s > 150.1 + 100.05 && verdict.time_s < 150.1 + 110, "at \(verdict.time_s)")
        }
    }

    @Test("an abrupt fall at 0.1 s sampling is stopped by the fast-fall test within three samples")
    func abruptFallAtFineSampling() throws {
        var signal = SyntheticPlating()
        // An isolated spike earlier makes the level test wait for a third sample too; the fast-fall test is then the
        // one that stops (without it the level test stops on the second fallen sample).
        signal.spikes[500] = -0.05
        for index in 1000..<1500 { signal.spikes[index] = -0.06 }
        let (verdict, step) = try #require(runSteps(signal, steps: 2, interval_s: 0.1, count: 1500))
        #expect(step == 1)
        #expect(verdict.evidence["test"] == Double(DendriteShortCriterion.Test.fastFall.rawValue))
        // The fall is in the sample at index 1000 of the second step; the third fallen sample is index 1002.
        let firstFallen = 150.1 + 100.0
        #expect(verdict.time_s >= firstFallen + 0.15 && verdict.time_s <= firstFallen + 0.25, "at \(verdict.time_s)")
        let onset = try #require(verdict.onsetTime_s)
        #expect(onset >= firstFallen - 0.15 && onset < firstFallen)
    }

    @Test("a burst of readings that jump about at 0.1 s sampling does not stop the run")
    func jumpingBurstAtFineSampling() {
        var signal = SyntheticPlating()
        signal.spikes = [500: -0.05, 1000: -0.06, 1001: -0.01, 1002: -0.07, 1003: -0.005]
        #expect(runSteps(signal, steps: 2, interval_s: 0.1, count: 1500) == nil)
    }

    @Test("a nucleation spike and relaxation at the step start, noise and slow drift do not trip it")
    func quietStep() {
        var signal = SyntheticPlating()
        signal.drift_V_per_s = -2e-6
        #expect(runStep(signal) == nil)
        #expect(runStep(signal, interval_s: 0.1, count: 3000) == nil)
    }

    @Test("single-sample spikes, even large ones, do not trip it")
    func spikes() {
        var signal = SyntheticPlating()
        signal.spikes = [100: -0.005, 200: -0.05, 300: 0.005, 301: -0.005, 400: -0.004]
        #expect(runStep(signal) == nil)
    }

    @Test("a real fall is found within three samples, with the onset and the step's current density")
    func realFall() throws {
        var signal = SyntheticPlating()
        signal.onset_s = 300.5
        let verdict = try #require(runStep(signal))
        #expect(verdict.criterion == "dendrite-short")
        #expect(verdict.action == .stop)
        #expect(verdict.time_s > 300.5 && verdict.time_s <= 303)
        let onset = try #require(verdict.onsetTime_s)
        #expect(onset >= 298 && onset <= 301)
        #expect(verdict.currentDensity_mA_cm2 == 4.8)
        #expect(verdict.evidence["cusum"]! >= verdict.evidence["threshold"]!)
    }

    @Test("the noise estimate follows the samples' real noise")
    func noiseEstimate() throws {
        for noise in [5e-5, 2e-4] {
            var signal = SyntheticPlating()
            signal.noise_V = noise
            signal.onset_s = 500.5
            signal.fall_V_per_sqrt_s = 0.05
            let verdict = try #require(runStep(signal))
            let estimated = try #require(verdict.evidence["noise_V"])
            #expect(estimated > 0.7 * noise && estimated < 1.4 * noise, "estimated \(estimated) for \(noise)")
        }
    }

    @Test("stripping steps are not watched unless asked")
    func watchesPlatingOnly() {
        var criterion = DendriteShortCriterion(settings: Self.settings)
        let step = PlannedStep(
            index: 0, cycle: 1, stepInCycle: 2, kind: .strip, current_A: 1e-3, currentDensity_mA_cm2: 1,
            durationLimit_s: 100)
        let context = StepContext(step: step, startTime_s: 0, area_cm2: 1, threeElectrode: false)
        criterion.stepStarted(context)
        var verdicts = 0
        for index in 1...100 {
            let voltage = index < 50 ? 0.3 : 0.1
            if criterion.evaluate(
                InstrumentSample(time_s: Double(index), current_A: 1e-3, voltage_V: voltage), context: context)
                != nil
            {
                verdicts += 1
            }
        }
        #expect(verdicts == 0)
    }
}
