import Domain
import Engine
import Foundation
import Testing

/// Plating steps at 10 s sampling whose current rises a tenth a step, each relaxing upwards to a level as much above
/// the last one (the cell polarises more as the current rises), with white noise; in the last step, from its third
/// sample on, either a short's flicker (a conductance that comes and goes: |V| only ever dips below the healthy level)
/// or healthy noise that also jumps far above the earlier steps' but spreads both ways.
struct FlickeringSteps {
    enum LastStep {
        case flicker
        case symmetricNoise
    }

    var steps = 6
    var samplesPerStep = 36
    var interval_s = 10.0
    var level_V = 0.4
    var noise_V = 4e-4
    /// The flicker's scale: |V| dips by this times |z| (z standard normal, fresh each sample).
    var flicker_V = 0.045
    /// The healthy noise's spread in the last step: 15 times the earlier steps' white noise, 1.3 % of |V|.
    var burstNoise_V = 0.006
    var state: UInt64 = 2103

    mutating func gaussian() -> Double {
        var sum = 0.0
        for _ in 0..<12 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            sum += Double(state >> 11) / Double(1 << 53)
        }
        return sum - 6
    }

    /// Runs every step through dendrite-short; the verdict that stopped the run and the step it came in, if any.
    mutating func run(last: LastStep, tuning: ShortDetectionTuning = .standard) -> (Verdict, Int)? {
        let settings = DendriteShortCriterion.Settings(
            during: .plate, minimumDrop_V: 3e-4, memory_s: 60, noiseFloor_V: 1e-5)
        let duration = Double(samplesPerStep) * interval_s
        let plan = (0..<steps).map { index in
            PlannedStep(
                index: index, cycle: index + 1, stepInCycle: 1, kind: .plate,
                current_A: -1e-3 * (1 + 0.1 * Double(index)),
                currentDensity_mA_cm2: 4.8 * (1 + 0.1 * Double(index)), durationLimit_s: duration + interval_s / 2)
        }
        var engine = RunEngine(
            plan: StepPlan(steps: plan, area_cm2: 0.2), threeElectrode: false,
            criteria: [DendriteShortCriterion(settings: settings, tuning: tuning)])
        _ = engine.start(at: 0)
        for step in 0..<steps {
            let stepLevel = level_V * (1 + 0.1 * Double(step))
            for index in 1...samplesPerStep {
                let since = Double(index) * interval_s
                var magnitude = stepLevel * (1 - 0.05 * exp(-since / 100)) + noise_V * gaussian()
                if step == steps - 1, index >= 3 {
                    switch last {
                    case .flicker: magnitude -= flicker_V * abs(gaussian())
                    case .symmetricNoise: magnitude += burstNoise_V * gaussian()
                    }
                }
                let sample = InstrumentSample(
                    time_s: Double(step) * (duration + interval_s) + since, current_A: plan[step].current_A,
                    voltage_V: -magnitude)
                if let verdict = engine.ingest(sample).outcome?.verdict { return (verdict, step) }
            }
        }
        return nil
    }
}

@Suite("dendrite-short: a short's flicker at coarse sampling, against healthy noise as large")
struct FlickerNoiseJumpTests {
    @Test("flicker that only lowers |V|, in a step that ends above the earlier ones, stops the run in that step")
    func flickerBelowTheHealthyLevelStops() throws {
        var cell = FlickeringSteps()
        let stop = cell.run(last: .flicker)
        let (verdict, step) = try #require(stop)
        #expect(step == cell.steps - 1)
        #expect(verdict.evidence["test"] == Double(DendriteShortCriterion.Test.noiseJump.rawValue))
    }

    @Test(
        "measured from the earlier step's end alone, the same flicker is missed: that end lies below this step's level")
    func earlierEndAloneMissesIt() {
        var cell = FlickeringSteps()
        var tuning = ShortDetectionTuning.standard
        tuning.flickerFreeShare = 0
        let stop = cell.run(last: .flicker, tuning: tuning)
        #expect(stop == nil)
    }

    @Test(
        "healthy noise 15 times the earlier steps', both ways, does not stop the run", arguments: [1, 2, 3] as [UInt64])
    func symmetricNoiseDoesNotStop(seed: UInt64) {
        var cell = FlickeringSteps()
        cell.state = seed
        let stop = cell.run(last: .symmetricNoise)
        #expect(stop == nil)
    }
}
