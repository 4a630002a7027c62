import Domain
import Engine
import Testing

/// Feeds an engine samples from a trivial ohmic "cell" (V = I * R) with an optional voltage override.
struct EngineHarness {
    var engine: RunEngine
    var current_A = 0.0
    var time_s = 0.0
    var resistance_Ohm = 100.0
    var outputs: [EngineOutput] = []

    init(plan: [PlannedStep], area_cm2: Double = 1, criteria: [any StopCriterion] = [], threeElectrode: Bool = false) {
        engine = RunEngine(
            plan: StepPlan(steps: plan, area_cm2: area_cm2), threeElectrode: threeElectrode, criteria: criteria)
    }

    mutating func start() {
        apply(engine.start(at: 0))
    }

    @discardableResult
    mutating func step(interval_s: Double = 1, voltage override: Double? = nil) -> EngineOutput {
        time_s += interval_s
        let sample = InstrumentSample(
            time_s: time_s, current_A: current_A, voltage_V: override ?? current_A * resistance_Ohm)
        let output = engine.ingest(sample)
        apply(output)
        return output
    }

    mutating func apply(_ output: EngineOutput) {
        outputs.append(output)
        for command in output.commands { current_A = command.cellCurrent(after: current_A) }
    }

    var events: [RunEvent] { outputs.flatMap(\.events) }
    var endedSteps: [StepRecord] { outputs.flatMap(\.steps).filter { $0.endTime_s != nil } }
}

@Suite("Run engine")
struct RunEngineTests {
    @Test("a capacity-limited step ends on the sample that completes its charge")
    func capacityEnd() {
        // 1 mA for 10 mC: 10 samples of 1 s.
        let plan = [
            PlannedStep(
                index: 0, cycle: 1, stepInCycle: 1, kind: .strip, current_A: 1e-3, currentDensity_mA_cm2: 1,
                capacityLimit_C: 0.01),
            PlannedStep(
                index: 1, cycle: 0, stepInCycle: 0, kind: .rest, current_A: 0, currentDensity_mA_cm2: 0,
                durationLimit_s: 5),
        ]
        var harness = EngineHarness(plan: plan)
        harness.start()
        #expect(harness.current_A == 1e-3)
        for _ in 0..<9 { harness.step() }
        #expect(harness.endedSteps.isEmpty)
        harness.step()
        #expect(harness.endedSteps.map(\.endReason) == [.capacity])
        #expect(abs(harness.endedSteps[0].charge_C - 0.01) < 1e-12)
        #expect(harness.current_A == 0, "the rest step opens the circuit")
        for _ in 0..<5 { harness.step() }
        #expect(harness.engine.outcome?.state == .completed)
        #expect(harness.endedSteps.map(\.endReason) == [.capacity, .duration])
    }

    @Test("samples are numbered without gaps and carry their step and cycle")
    func sampleNumbering() {
        let plan = (0..<3).map {
            PlannedStep(
                index: $0, cycle: $0 + 1, stepInCycle: 1, kind: .plate, current_A: -1e-3, currentDensity_mA_cm2: 1,
                durationLimit_s: 2)
        }
        var harness = EngineHarness(plan: plan)
        harness.start()
        for _ in 0..<6 { harness.step() }
        let recorded = harness.outputs.compactMap(\.recorded)
        #expect(recorded.map(\.seq) == Array(0..<6))
        #expect(recorded.map(\.stepIndex) == [0, 0, 1, 1, 2, 2])
        #expect(recorded.map(\.cycle) == [1, 1, 2, 2, 3, 3])
        #expect(harness.engine.isFinished)
    }

    @Test("a voltage limit ends a step on the controlled voltage's magnitude")
    func voltageLimit() {
        let plan = [
            PlannedStep(
                index: 0, cycle: 0, stepInCycle: 0, kind: .strip, current_A: 1e-3, currentDensity_mA_cm2: 1,
                durationLimit_s: 100, voltageLimit_V: 1)
        ]
        var harness = EngineHarness(plan: plan)
        harness.start()
        harness.step(voltage: 0.5)
        harness.step(voltage: 0.99)
        #expect(!harness.engine.isFinished)
        harness.step(voltage: 1.01)
        #expect(harness.endedSteps.first?.endReason == .voltageLimit)
        #expect(harness.engine.outcome?.state == .completed)
    }

    @Test("the seed-004 rule stops on a drop below the running extreme and reports the CCD")
    func voltageDropStops() {
        let plan = [
            PlannedStep(
                index: 0, cycle: 7, stepInCycle: 1, kind: .plate, current_A: -1e-3, currentDensity_mA_cm2: 3.5,
                durationLimit_s: 1000)
        ]
        var harness = EngineHarness(
            plan: plan, criteria: [VoltageDropCriterion(drop_V: 0.002, during: .plate, ignoreFirst_s: 0)])
        harness.start()
        for voltage in [-0.100, -0.101, -0.1015, -0.1012, -0.1001] { harness.step(voltage: voltage) }
        #expect(!harness.engine.isFinished, "a 1.4 mV fall is below the 2 mV threshold")
        harness.step(voltage: -0.0994)
        let outcome = harness.engine.outcome
        #expect(outcome?.state == .stopped)
        #expect(outcome?.ccd_mA_cm2 == 3.5)
        #expect(
            outcome?.verdict?.onsetTime_s == 4,
            "onset is the last sample within half the threshold of the extreme, before the fall began")
        #expect(harness.current_A == 0, "the cell goes to open circuit")
        #expect(harness.events.contains { $0.kind == .verdict && $0.verdict?.criterion == "voltage-drop" })
        #expect(harness.endedSteps.first?.endReason == .criterion)
    }

    @Test("a plate-only drop rule ignores stripping steps")
    func voltageDropWatchesPlatingOnly() {
        let plan = [
            PlannedStep(
                index: 0, cycle: 1, stepInCycle: 1, kind: .strip, current_A: 1e-3, currentDensity_mA_cm2: 1,
                durationLimit_s: 3)
        ]
        var harness = EngineHarness(
            plan: plan, criteria: [VoltageDropCriterion(drop_V: 0.002, during: .plate, ignoreFirst_s: 0)])
        harness.start()
        for voltage in [0.1, 0.05, 0.01] { harness.step(voltage: voltage) }
        #expect(harness.engine.outcome?.state == .completed)
    }

    @Test("ignore-first skips the start of each watched step")
    func ignoreFirst() {
        let plan = [
            PlannedStep(
                index: 0, cycle: 1, stepInCycle: 1, kind: .plate, current_A: -1e-3, currentDensity_mA_cm2: 1,
                durationLimit_s: 10)
        ]
        var harness = EngineHarness(
            plan: plan, criteria: [VoltageDropCriterion(drop_V: 0.002, during: .plate, ignoreFirst_s: 4)])
        harness.start()
        // A nucleation spike that relaxes within the ignored window.
        for voltage in [-0.3, -0.2, -0.11, -0.1, -0.1, -0.1] { harness.step(voltage: voltage) }
        #expect(!harness.engine.isFinished)
    }

    @Test("an abort ends the step and opens the circuit")
    func abort() {
        let plan = [
            PlannedStep(
                index: 0, cycle: 1, stepInCycle: 1, kind: .plate, current_A: -1e-3, currentDensity_mA_cm2: 1,
                durationLimit_s: 100)
        ]
        var harness = EngineHarness(plan: plan)
        harness.start()
        harness.step()
        harness.apply(harness.engine.end(.aborted, reason: "operator"))
        #expect(harness.engine.outcome?.state == .aborted)
        #expect(harness.current_A == 0)
        #expect(harness.endedSteps.first?.endReason == .runEnded)
        // Samples that still arrive are recorded, never dropped.
        let late = harness.step()
        #expect(late.recorded?.seq == 1)
    }

    @Test("the voltage window guard stops the run without a CCD")
    func voltageWindow() {
        let plan = [
            PlannedStep(
                index: 0, cycle: 1, stepInCycle: 1, kind: .plate, current_A: -1e-3, currentDensity_mA_cm2: 1,
                durationLimit_s: 100)
        ]
        var harness = EngineHarness(plan: plan, criteria: [VoltageWindowCriterion(minimum_V: -1, maximum_V: 1)])
        harness.start()
        harness.step(voltage: -0.5)
        harness.step(voltage: -1.2)
        #expect(harness.engine.outcome?.state == .stopped)
        #expect(harness.engine.outcome?.ccd_mA_cm2 == nil)
    }

    @Test("every catalogued criterion has an implementation built from its defaults")
    func catalogueIsImplemented() throws {
        let context = RunContext(metal: .k, metalThickness_um: 300, stackPressureSetpoint_MPa: 2.5)
        for spec in CriterionCatalogue.all {
            #expect(CriterionFactory.implementedNames.contains(spec.name))
            let criterion = try CriterionFactory.make(CriterionDeclaration(name: spec.name), context: context)
            #expect(criterion.name == spec.name)
        }
    }

    @Test("a guard that needs cell data the run lacks says what to give")
    func guardsNeedCellData() throws {
        let pressure = try #require(throws: CriterionError.self) {
            try CriterionFactory.make(CriterionDeclaration(name: "stack-pressure"))
        }
        #expect(pressure.message.contains("setpoint"))
        let inventory = try #require(throws: CriterionError.self) {
            try CriterionFactory.make(CriterionDeclaration(name: "metal-inventory"), context: RunContext(metal: .li))
        }
        #expect(inventory.message.contains("thickness"))
    }
}

@Suite("Run engine: late samples")
struct RunEngineLateSampleTests {
    @Test("a sample measured under the previous step is placed in it, after it, and never judged by the next step")
    func lateSampleAfterAStepChange() throws {
        let plan = [
            PlannedStep(
                index: 0, cycle: 1, stepInCycle: 1, kind: .strip, current_A: 1e-3, currentDensity_mA_cm2: 1,
                capacityLimit_C: 0.002),
            PlannedStep(
                index: 1, cycle: 1, stepInCycle: 2, kind: .plate, current_A: -1e-3, currentDensity_mA_cm2: 1,
                durationLimit_s: 3),
        ]
        var harness = EngineHarness(
            plan: plan, criteria: [VoltageDropCriterion(drop_V: 0.002, during: .plate, ignoreFirst_s: 0)])
        harness.start()
        harness.step()
        harness.step()
        #expect(harness.current_A == -1e-3, "the strip step ended on its capacity; plating commanded")
        // The instrument had measured one more strip point (|V| far above the plating |V|) before the change.
        harness.time_s += 1
        let late = harness.engine.recordLate(InstrumentSample(time_s: harness.time_s, current_A: 1e-3, voltage_V: 0.15))
        harness.apply(late)
        let recorded = try #require(late.recorded)
        #expect(recorded.seq == 2)
        #expect(recorded.stepIndex == 0 && recorded.cycle == 1)
        #expect(late.commands.isEmpty && late.events.isEmpty && late.steps.isEmpty)
        // The plating current flowed only after the late point, so its 3 s count from there: three intervals.
        harness.step()
        harness.step()
        #expect(harness.engine.outcome == nil, "the late second does not count towards the plating step's 3 s")
        harness.step()
        #expect(!harness.events.contains { $0.kind == .verdict }, "the strip point is not the plating step's extreme")
        #expect(harness.engine.outcome?.state == .completed)
        let plating = try #require(harness.endedSteps.last)
        #expect(abs(plating.charge_C - 0.003) < 1e-12, "three plating intervals; the late interval was stripping")
        #expect(harness.engine.sampleCount == 6)
    }

    @Test("after the run's end, a late sample goes to the step of the latest sample, not to the plan's last step")
    func lateSampleAfterTheEnd() throws {
        let plan = (0..<3).map {
            PlannedStep(
                index: $0, cycle: $0 + 1, stepInCycle: 1, kind: .plate, current_A: -1e-3, currentDensity_mA_cm2: 1,
                durationLimit_s: 10)
        }
        var harness = EngineHarness(plan: plan)
        harness.start()
        harness.step()
        harness.apply(harness.engine.end(.aborted, reason: "operator"))
        let late = harness.engine.recordLate(InstrumentSample(time_s: 2, current_A: 0, voltage_V: 0))
        #expect(late.recorded?.stepIndex == 0)
        #expect(late.recorded?.seq == 1)
    }

    @Test("an impedance step asks for a spectrum, ends with its last point, and the next step follows")
    func impedanceStep() {
        let settings = ImpedanceSettings(
            control: .galvanostatic, startFrequency_Hz: 1e3, endFrequency_Hz: 1, pointsPerDecade: 1, amplitude: 1e-5)
        var harness = EngineHarness(plan: [
            PlannedStep(
                index: 0, cycle: 0, stepInCycle: 0, kind: .rest, current_A: 0, currentDensity_mA_cm2: 0,
                durationLimit_s: 2),
            PlannedStep(
                index: 1, cycle: 0, stepInCycle: 0, kind: .impedance, current_A: 0, currentDensity_mA_cm2: 0,
                impedance: settings),
            PlannedStep(
                index: 2, cycle: 0, stepInCycle: 0, kind: .plate, current_A: -1e-3, currentDensity_mA_cm2: 1,
                durationLimit_s: 5),
        ])
        harness.start()
        harness.step()
        let ended = harness.step()
        #expect(ended.commands == [.measureImpedance(settings)])
        #expect(harness.engine.currentStep?.step.kind == .impedance)
        let points = [2.5, 4.0, 9.0].map {
            ImpedancePoint(time_s: $0, frequency_Hz: 1, real_Ohm: 10, imaginary_Ohm: -1)
        }
        let measured = harness.engine.impedanceMeasured(points)
        #expect(measured.spectrum == RecordedSpectrum(stepIndex: 1, cycle: 0, points: points))
        #expect(measured.commands == [.applyCurrent(-1e-3)])
        #expect(measured.steps.first?.endReason == .measured)
        #expect(measured.steps.first?.endTime_s == 9)
        #expect(measured.steps.last?.startTime_s == 9, "the next step starts at the last point")
        #expect(measured.events.contains { $0.kind == .impedanceMeasured })
        #expect(harness.engine.latestTime_s == 9)
        #expect(harness.engine.impedanceMeasured(points).spectrum == nil, "only an impedance step takes a spectrum")
    }

    @Test("after a resume the criteria see the step as starting there; the step's own clock counts on")
    func resumeRestartsTheCriteriasView() {
        var harness = EngineHarness(
            plan: [
                PlannedStep(
                    index: 0, cycle: 0, stepInCycle: 0, kind: .plate, current_A: -1e-3,
                    currentDensity_mA_cm2: 1, durationLimit_s: 20)
            ],
            criteria: [ContextRecorder()])
        harness.start()
        for _ in 0..<5 { harness.step() }
        harness.engine.suspend(Verdict(criterion: "instrument", action: .pause, reason: "port gone", time_s: 5))
        #expect(harness.engine.isPaused)
        harness.step()
        harness.step()  // two samples at open circuit while paused (t = 6, 7)
        harness.apply(harness.engine.resume())
        #expect(harness.current_A == -1e-3, "the step's current is applied again")
        let verdicts = (0..<3).compactMap { _ in harness.step().events.first { $0.kind == .verdict }?.verdict }
        let seen = verdicts.map { ($0.evidence["start_s"]!, $0.evidence["elapsed_s"]!, $0.evidence["samples"]!) }
        #expect(seen.map(\.0) == [7, 7, 7], "the criteria's step starts at the resume")
        #expect(seen.map(\.1) == [1, 2, 3])
        #expect(seen.map(\.2) == [1, 2, 3])
        // The step ends on its own clock: 20 s of current, not counting the 2 s paused.
        while !harness.engine.isFinished { harness.step() }
        #expect(harness.time_s == 22)
    }
}

/// Reports the step context it is given as a warning, for tests of what the engine tells criteria.
private struct ContextRecorder: StopCriterion {
    let name = "context-recorder"
    let detectsShort = false
    let evaluatesWhilePaused = false
    mutating func stepStarted(_ context: StepContext) {}
    mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        Verdict(
            criterion: name, action: .warn, reason: "context", time_s: sample.time_s,
            evidence: [
                "start_s": context.startTime_s, "elapsed_s": context.elapsed_s, "samples": Double(context.sampleCount),
            ])
    }
}
