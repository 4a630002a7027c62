import Domain
import Engine
import Testing

/// Counts the samples it is asked to judge and never stops anything.
private struct JudgedSampleCounter: StopCriterion {
    let name = "counter"
    let detectsShort = false
    var judged: [Double] = []

    mutating func stepStarted(_ context: StepContext) {}

    mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        judged.append(sample.time_s)
        return Verdict(criterion: name, action: .warn, reason: "saw \(sample.time_s)", time_s: sample.time_s)
    }
}

@Suite("Run engine: flagged samples")
struct SampleFlagsEngineTests {
    let plan = [
        PlannedStep(
            index: 0, cycle: 1, stepInCycle: 1, kind: .strip, current_A: 1e-3, currentDensity_mA_cm2: 1,
            capacityLimit_C: 0.01)
    ]

    func engine() -> RunEngine {
        var engine = RunEngine(
            plan: StepPlan(steps: plan, area_cm2: 1), threeElectrode: false, criteria: [JudgedSampleCounter()])
        _ = engine.start(at: 0)
        return engine
    }

    func sample(_ time_s: Double, current: Double = 1e-3, voltage: Double = 0.1, flags: SampleFlags = [])
        -> InstrumentSample
    {
        InstrumentSample(time_s: time_s, current_A: current, voltage_V: voltage, flags: flags).flaggingNonFiniteValues()
    }

    func judgedTimes(_ outputs: [EngineOutput]) -> [Double] {
        outputs.flatMap(\.events).compactMap(\.verdict).filter { $0.criterion == "counter" }.map(\.time_s)
    }

    @Test("a non-finite current adds no charge and is not judged; the run goes on")
    func nonFiniteCurrent() {
        var engine = engine()
        var outputs: [EngineOutput] = []
        for time in 1...5 { outputs.append(engine.ingest(sample(Double(time), current: time == 3 ? .nan : 1e-3))) }
        #expect(judgedTimes(outputs) == [1, 2, 4, 5])
        #expect(abs((engine.currentStep?.charge_C ?? 0) - 4e-3) < 1e-12, "the interval ending at the NaN adds none")
        #expect(outputs[2].recorded?.sample.flags == [.nonFinite])
        #expect(!engine.isFinished)
        let warnings = outputs.flatMap(\.events).compactMap(\.verdict).filter { $0.criterion == "sample-quality" }
        #expect(warnings.map(\.action) == [.warn])
    }

    @Test("an overload keeps its current out of the charge and the criteria; a voltage NaN keeps the current in")
    func overloadAndVoltageNaN() {
        var engine = engine()
        var outputs: [EngineOutput] = []
        outputs.append(engine.ingest(sample(1)))
        outputs.append(engine.ingest(sample(2, flags: .overload)))
        outputs.append(engine.ingest(sample(3, voltage: .nan)))
        #expect(judgedTimes(outputs) == [1])
        #expect(abs((engine.currentStep?.charge_C ?? 0) - 2e-3) < 1e-12)
    }

    @Test("a streak of unjudgeable samples pauses the run at open circuit")
    func streakPauses() {
        var engine = engine()
        var outputs: [EngineOutput] = []
        for time in 1...6 { outputs.append(engine.ingest(sample(Double(time), voltage: time > 1 ? .nan : 0.1))) }
        #expect(engine.isPaused)
        #expect(engine.pause?.criterion == "sample-quality")
        #expect(outputs[5].commands == [.openCircuit])
    }

    @Test("a sample flagged late is placed as recordLate places it: in the previous step, unjudged, no charge")
    func lateSamplesReplayAsLate() {
        var engine = engine()
        _ = engine.ingest(sample(1))
        let late = engine.ingest(sample(2, flags: .late))
        #expect(late.recorded?.sample.flags == [.late])
        #expect(late.events.isEmpty)
        #expect(abs((engine.currentStep?.charge_C ?? 0) - 1e-3) < 1e-12)
    }
}
