import Domain
import Engine
import Testing

/// A wait on temperature and pressure, fed samples whose readings the test writes.
private struct WaitHarness {
    var engine: RunEngine
    var time_s = 0.0
    var outputs: [EngineOutput] = []

    init(_ steps: [PlannedStep]) {
        engine = RunEngine(plan: StepPlan(steps: steps, area_cm2: 1), threeElectrode: false, criteria: [])
        outputs.append(engine.start(at: 0))
    }

    mutating func sample(
        temperature: Double?, pressure: Double? = 7, flags: SampleFlags = [], every interval: Double = 10
    ) {
        time_s += interval
        outputs.append(
            engine.ingest(
                InstrumentSample(
                    time_s: time_s, current_A: 0, voltage_V: 0.001, pressure_MPa: pressure, temperature_C: temperature,
                    flags: flags)))
    }

    var commands: [InstrumentCommand] { outputs.flatMap(\.commands) }
    var ended: [StepRecord] { outputs.flatMap(\.steps).filter { $0.endTime_s != nil } }
}

private func waitStep(_ index: Int, _ conditions: [WaitCondition], timeout_s: Double? = nil) -> PlannedStep {
    var step = PlannedStep(
        index: index, cycle: 0, stepInCycle: 0, kind: .wait, current_A: 0, currentDensity_mA_cm2: 0)
    step.wait = WaitRule(conditions: conditions, timeout_s: timeout_s)
    return step
}

private let rest = PlannedStep(
    index: 1, cycle: 0, stepInCycle: 0, kind: .rest, current_A: 0, currentDensity_mA_cm2: 0, durationLimit_s: 100)

@Suite("Wait and set_temperature steps")
struct WaitStepTests {
    @Test("set_temperature commands open circuit and the setpoint, and without a wait ends on its first sample")
    func setTemperatureCommandsTheSetpoint() {
        var step = PlannedStep(
            index: 0, cycle: 0, stepInCycle: 0, kind: .setTemperature, current_A: 0, currentDensity_mA_cm2: 0,
            durationLimit_s: 0)
        step.temperatureSetpoint_C = 80
        var harness = WaitHarness([step, rest])
        #expect(harness.commands == [.openCircuit, .setTemperature(80)])
        harness.sample(temperature: 22)
        #expect(harness.ended.map(\.step.index) == [0])
    }

    @Test("the wait ends once the temperature has stayed in its band for the hold; a reading outside starts it again")
    func settlesAfterAnUnbrokenHold() {
        let condition = WaitCondition(quantity: .temperature, target: 80, tolerance: 1, hold_s: 60)
        var harness = WaitHarness([waitStep(0, [condition]), rest])
        for temperature in [60.0, 79.2, 80.5, 81.5] { harness.sample(temperature: temperature) }
        // In band from t = 20 s to 30 s, broken at 40 s.
        #expect(harness.ended.isEmpty)
        for _ in 0..<6 { harness.sample(temperature: 80.2) }  // 50 ... 100 s: 50 s in band
        #expect(harness.ended.isEmpty)
        harness.sample(temperature: 79.9)  // 110 s: 60 s since 50 s
        #expect(harness.ended.map(\.endReason) == [.settled])
        #expect(harness.ended.first?.endTime_s == 110)
    }

    @Test("stale, missing and unusable readings neither confirm nor break the hold; every sample is recorded")
    func unusableReadingsAreIgnored() {
        let temperature = WaitCondition(quantity: .temperature, target: 80, tolerance: 1, hold_s: 30)
        let pressure = WaitCondition(quantity: .stackPressure, target: 7, tolerance: 0.2, hold_s: 30)
        var harness = WaitHarness([waitStep(0, [temperature, pressure]), rest])
        harness.sample(temperature: 80)  // 10 s: both in band
        harness.sample(temperature: 20, flags: .temperatureStale)  // ignored
        harness.sample(temperature: nil, pressure: 3, flags: .pressureImplausible)  // ignored
        #expect(harness.ended.isEmpty)
        harness.sample(temperature: 80.1, pressure: 7.1)  // 40 s: 30 s held
        #expect(harness.ended.map(\.endReason) == [.settled])
        #expect(harness.outputs.compactMap(\.recorded).count == 4)
    }

    @Test("a wait not met within its timeout pauses at open circuit and says why; a resume waits afresh")
    func timeoutPausesAndSaysWhy() throws {
        let pressure = WaitCondition(quantity: .stackPressure, target: 7, tolerance: 0.2, hold_s: 300)
        var harness = WaitHarness([waitStep(0, [pressure], timeout_s: 400), rest])
        for _ in 0..<39 { harness.sample(temperature: 25, pressure: 6.5) }
        #expect(!harness.engine.isPaused)
        harness.sample(temperature: 25, pressure: 6.5)  // 400 s
        #expect(harness.engine.isPaused)
        let verdict = try #require(harness.engine.pause)
        #expect(verdict.criterion == "wait")
        #expect(verdict.reason.contains("stack_pressure within 7 +/- 0.2 MPa for 5 min"), "\(verdict.reason)")
        #expect(verdict.reason.contains("last read 6.5 MPa"), "\(verdict.reason)")
        #expect(harness.outputs.last?.commands == [.openCircuit])
        for _ in 0..<40 { harness.sample(temperature: 25, pressure: 7) }
        #expect(harness.engine.isPaused && harness.ended.isEmpty, "a paused wait does not end by itself")
        harness.outputs.append(harness.engine.resume())
        #expect(!harness.engine.isPaused)
        for _ in 0..<30 { harness.sample(temperature: 25, pressure: 7) }
        #expect(
            harness.ended.isEmpty && !harness.engine.isPaused, "the hold counts from the first sample after the resume")
        harness.sample(temperature: 25, pressure: 7)
        #expect(harness.ended.map(\.endReason) == [.settled])
    }
}
