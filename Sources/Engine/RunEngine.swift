import Domain

/// An impedance spectrum placed in its run: the step that measured it.
public struct RecordedSpectrum: Sendable, Hashable {
    public var stepIndex: Int
    public var cycle: Int
    public var points: [ImpedancePoint]

    public init(stepIndex: Int, cycle: Int, points: [ImpedancePoint]) {
        self.stepIndex = stepIndex
        self.cycle = cycle
        self.points = points
    }
}

/// A step's record as stored in the `steps` table: written when it starts and again when it ends.
public struct StepRecord: Sendable, Hashable, Codable {
    public var step: PlannedStep
    public var startTime_s: Double
    public var endTime_s: Double?
    public var endReason: StepEndReason?
    /// Charge passed, coulombs (magnitude).
    public var charge_C: Double

    public init(
        step: PlannedStep, startTime_s: Double, endTime_s: Double? = nil, endReason: StepEndReason? = nil,
        charge_C: Double = 0
    ) {
        self.step = step
        self.startTime_s = startTime_s
        self.endTime_s = endTime_s
        self.endReason = endReason
        self.charge_C = charge_C
    }
}

/// Everything one engine call produced, in order: the sample as placed in the run, the commands to hand to the
/// instrument, step records and events to store, and the outcome if the run ended.
public struct EngineOutput: Sendable, Hashable {
    public var recorded: RecordedSample?
    /// The spectrum an impedance step measured.
    public var spectrum: RecordedSpectrum?
    public var commands: [InstrumentCommand] = []
    public var steps: [StepRecord] = []
    public var events: [RunEvent] = []
    public var outcome: RunOutcome?

    public init() {}
}

/// The run state machine, without I/O: samples and operator commands in, instrument commands and events out.
///
/// Time comes only from the instrument's sample timestamps, so a simulator can run days of cell time in seconds
/// and a replay of stored samples reproduces the live run exactly. The engine integrates charge, ends steps on
/// their capacity, time or voltage limits, applies the stop criteria and reports their verdicts.
///
/// Verdicts: `warn` is recorded only; `end-step` ends the step and starts the next; `stop` ends the run at open
/// circuit (a short criterion's stop sets the CCD); `pause` puts the cell at open circuit and keeps the run and its
/// step open: samples are still recorded, guards still judge them, the step's clock and charge stand still, and
/// ``resume()`` applies the step's current again.
public struct RunEngine: Sendable {
    public let plan: StepPlan
    public let threeElectrode: Bool
    /// Cell data the guards use (metal, thickness, setpoints).
    public let context: RunContext
    public private(set) var outcome: RunOutcome? {
        didSet { isFinished = outcome != nil }
    }
    /// The verdict that paused the run, while it is paused.
    public private(set) var pause: Verdict? {
        didSet { isPaused = pause != nil }
    }
    /// Whether the run has ended. Kept beside ``outcome`` (and ``isPaused`` beside ``pause``) because they are asked
    /// several times per sample, and testing the optional struct itself copies it (its strings and verdict).
    public private(set) var isFinished = false
    /// Whether the run is paused at open circuit (a ``pause`` verdict stands).
    public private(set) var isPaused = false
    public private(set) var currentStep: StepRecord?
    public private(set) var sampleCount = 0
    /// Cell time of the latest sample (or of the start).
    public private(set) var latestTime_s: Double = 0

    private var criteria: [any StopCriterion]
    /// Per criterion, the step kinds it judges (nil: all), from the catalogue.
    private let judgedKinds: [[StepKind]?]
    /// Watches a rest with a relaxation rule for the voltage to settle.
    private var relaxation: RelaxationWatch?
    /// In potential-controlled steps the voltage window becomes a current window: the run stops when |I| reaches
    /// this (the rig's current limit, set by whoever builds the engine for a rig), as a galvanostatic step's
    /// voltage would reach the compliance.
    public var currentWindow_A: Double?
    /// Step index and cycle the latest sample was placed in.
    private var latestPlacement: (stepIndex: Int, cycle: Int)?
    private var stepSampleCount = 0
    private var started = false
    /// Cell time the current step has spent paused so far, or waiting for its output to take effect (the late
    /// samples of the previous output that came before its first own sample): not counted as the step's time.
    private var stepPaused_s = 0.0
    /// Watches for overload and non-finite samples, which the criteria cannot judge.
    private var sampleQuality = SampleQualityWatch()
    /// The latest resume of the current step, if any: the criteria see the step as starting there (cell time, and
    /// the step's samples counted before it), since every criterion starts its model afresh on a resume.
    private var resumed: (time_s: Double, samplesBefore: Int)?
    /// Judges the conditions of wait steps.
    private var waitWatch = WaitWatch()

    public init(
        plan: StepPlan, threeElectrode: Bool, criteria: [any StopCriterion], context: RunContext = RunContext()
    ) {
        self.plan = plan
        self.threeElectrode = threeElectrode
        self.criteria = criteria
        self.judgedKinds = criteria.map { CriterionCatalogue.spec(named: $0.name)?.judges }
        self.context = context
    }

    /// Builds the engine for a protocol on an electrode of `area_cm2`, with the criteria its `stop:` list names.
    ///
    /// `context` gives the guards the cell's metal, metal thickness and setpoints; the protocol's `conditions:`
    /// fill in setpoints it lacks.
    public init(protocol testProtocol: TestProtocol, area_cm2: Double, context: RunContext = RunContext())
        throws(EngineSetupError)
    {
        let context = context.completed(with: testProtocol.conditions)
        let plan: StepPlan
        do {
            plan = try StepPlan(expanding: testProtocol, area_cm2: area_cm2)
        } catch {
            throw EngineSetupError(message: error.message, position: error.position)
        }
        var criteria: [any StopCriterion] = []
        for declaration in testProtocol.stopCriteria {
            do {
                criteria.append(try CriterionFactory.make(declaration, context: context))
            } catch {
                throw EngineSetupError(message: error.message, position: declaration.position)
            }
        }
        self.init(plan: plan, threeElectrode: testProtocol.threeElectrode, criteria: criteria, context: context)
    }

    /// Cell time the current step has run, not counting its pauses; nil when no step runs.
    public var currentStepElapsed_s: Double? {
        currentStep.map { max(0, latestTime_s - $0.startTime_s - stepPaused_s) }
    }

    /// Starts the first step at cell time `time_s`.
    public mutating func start(at time_s: Double = 0) -> EngineOutput {
        precondition(!started, "a run starts once")
        started = true
        latestTime_s = time_s
        var output = EngineOutput()
        output.events.append(
            RunEvent(kind: .runStarted, time_s: time_s, message: "run started: \(plan.steps.count) planned steps"))
        guard !plan.steps.isEmpty else {
            finish(RunOutcome(state: .completed, reason: "the plan has no steps"), at: time_s, into: &output)
            return output
        }
        begin(stepAt: 0, time_s: time_s, into: &output)
        return output
    }

    /// Places one sample in the run and reacts to it.
    ///
    /// A sample flagged ``SampleFlags/late`` is placed as ``recordLate(_:)`` places it (a replay meets the late
    /// samples the live run recorded). A sample flagged overload or non-finite is recorded but not judged: the
    /// criteria never see it, the interval it ends adds no charge, and it cannot end a step on its voltage. The
    /// first of a streak of such samples is reported as a `sample-quality` warning; a streak of
    /// ``SampleQualityWatch/streakLimit`` pauses the run at open circuit, since the criteria are blind while it lasts.
    public mutating func ingest(_ sample: InstrumentSample) -> EngineOutput {
        precondition(started, "start the engine before feeding it samples")
        if sample.flags.contains(.late) { return recordLate(sample) }
        var sample = sample
        if !sample.time_s.isFinite {
            sample.time_s = latestTime_s
            sample.flags.insert(.nonFinite)
        }
        var output = EngineOutput()
        let stepIndex = currentStep?.step.index ?? plan.steps.count - 1
        let cycle = currentStep?.step.cycle ?? plan.steps.last?.cycle ?? 0
        output.recorded = RecordedSample(seq: sampleCount, sample: sample, stepIndex: stepIndex, cycle: cycle)
        latestPlacement = (stepIndex, cycle)
        sampleCount += 1
        let previousTime = latestTime_s
        latestTime_s = max(latestTime_s, sample.time_s)
        guard !isFinished, var record = currentStep else { return output }

        let judged = sample.isJudged
        let interval = max(0, sample.time_s - previousTime)
        if isPaused {
            stepPaused_s += interval
        } else {
            stepSampleCount += 1
            if sample.current_A.isFinite, !sample.flags.contains(.overload) {
                record.charge_C += abs(sample.current_A) * interval
                // In place: storing the whole record back would copy the step (and retain its parts) per sample.
                currentStep?.charge_C = record.charge_C
            }
        }
        let stepElapsed_s = sample.time_s - record.startTime_s - stepPaused_s
        let context = StepContext(
            step: record.step, startTime_s: resumed?.time_s ?? record.startTime_s,
            elapsed_s: resumed.map { max(0, sample.time_s - $0.time_s) } ?? stepElapsed_s, charge_C: record.charge_C,
            sampleCount: stepSampleCount - (resumed?.samplesBefore ?? 0), area_cm2: plan.area_cm2,
            threeElectrode: threeElectrode)

        var strongest: (verdict: Verdict, detectsShort: Bool)?
        func consider(_ verdict: Verdict, detectsShort: Bool) {
            output.events.append(
                RunEvent(
                    kind: .verdict, time_s: sample.time_s,
                    message: "\(verdict.criterion): \(verdict.action.rawValue): "
                        + verdict.reason, stepIndex: record.step.index, verdict: verdict))
            if strongest == nil || verdict.action > strongest!.verdict.action {
                strongest = (verdict, detectsShort)
            }
        }
        if let verdict = sampleQuality.judge(sample, seq: sampleCount - 1, runIsPaused: isPaused) {
            consider(verdict, detectsShort: false)
        }
        if judged, record.step.kind.controlsPotential, !isPaused, let verdict = currentWindowVerdict(sample) {
            consider(verdict, detectsShort: false)
        }
        if judged {
            for index in criteria.indices where !isPaused || criteria[index].evaluatesWhilePaused {
                if record.step.kind.controlsPotential, let kinds = judgedKinds[index], !kinds.contains(record.step.kind)
                {
                    continue
                }
                guard let verdict = criteria[index].evaluate(sample, context: context), verdict.action != .continue
                else { continue }
                consider(verdict, detectsShort: criteria[index].detectsShort)
            }
        }
        if let (verdict, detectsShort) = strongest {
            switch verdict.action {
            case .pause where !detectsShort:
                if !isPaused {
                    pause = verdict
                    output.commands.append(.openCircuit)
                }
                return output
            case .stop, .pause:
                // A short is never paused on: the cell must be stopped at onset to be imaged.
                let ccd = detectsShort ? verdict.currentDensity_mA_cm2 : nil
                let reason = detectsShort ? "short detected by \(verdict.criterion)" : "stopped by \(verdict.criterion)"
                endStep(.criterion, at: sample.time_s, into: &output)
                finish(
                    RunOutcome(state: .stopped, reason: reason, ccd_mA_cm2: ccd, verdict: verdict), at: sample.time_s,
                    into: &output)
                return output
            case .endStep:
                pause = nil
                advance(after: .criterion, at: sample.time_s, into: &output)
                return output
            case .warn, .continue:
                break
            }
        }
        if isPaused { return output }
        if let rule = record.step.wait, let judgement = waitWatch.judge(sample, rule: rule) {
            switch judgement {
            case .settled:
                advance(after: .settled, at: sample.time_s, into: &output)
            case .timedOut(let verdict):
                output.events.append(
                    RunEvent(
                        kind: .verdict, time_s: sample.time_s,
                        message: "\(verdict.criterion): \(verdict.action.rawValue): \(verdict.reason)",
                        stepIndex: record.step.index, verdict: verdict))
                pause = verdict
                output.commands.append(.openCircuit)
            }
            return output
        }
        if let reason = endReason(of: record, sample: sample, judged: judged, elapsed_s: stepElapsed_s) {
            advance(after: reason, at: sample.time_s, into: &output)
        }
        return output
    }

    /// Places a sample that was measured before the latest command took effect but reached the host only after
    /// it: one a driver read while stopping the previous output (a MethodSCRIPT script it aborted), handed over
    /// with `Galvanostat.takePendingSamples()`.
    ///
    /// The sample is recorded with ``SampleFlags/late`` in the step of the latest sample (under whose output it was
    /// measured), after it in sequence. It is not judged by the criteria and adds nothing to the current step's charge: it was measured
    /// under the previous output. Works before and after the run's end.
    ///
    /// Late samples that come before the current step's first own sample push that step's start back: the
    /// instrument began its output only after measuring them, so their time does not count towards the step's
    /// duration. A sweep timed from its start thus runs to its end however long the previous output took to stop.
    public mutating func recordLate(_ sample: InstrumentSample) -> EngineOutput {
        precondition(started, "start the engine before feeding it samples")
        var output = EngineOutput()
        let placement =
            latestPlacement
            ?? (currentStep?.step.index ?? max(0, plan.steps.count - 1), currentStep?.step.cycle ?? 0)
        var late = sample
        late.flags.insert(.late)
        if !late.time_s.isFinite {
            late.time_s = latestTime_s
            late.flags.insert(.nonFinite)
        }
        output.recorded = RecordedSample(
            seq: sampleCount, sample: late, stepIndex: placement.stepIndex, cycle: placement.cycle)
        sampleCount += 1
        if currentStep != nil, stepSampleCount == 0, !isPaused { stepPaused_s += max(0, late.time_s - latestTime_s) }
        latestTime_s = max(latestTime_s, late.time_s)
        return output
    }

    /// Takes the spectrum the instrument measured for the current impedance step, ends that step and starts the
    /// next. The step ends at the spectrum's last point (or at `endTime_s`, for a replay that has no spectrum),
    /// never before the latest sample. Does nothing unless an impedance step is running.
    public mutating func impedanceMeasured(_ points: [ImpedancePoint], endTime_s: Double? = nil) -> EngineOutput {
        var output = EngineOutput()
        guard !isFinished, let record = currentStep, record.step.kind == .impedance else { return output }
        output.spectrum = RecordedSpectrum(stepIndex: record.step.index, cycle: record.step.cycle, points: points)
        for index in criteria.indices { criteria[index].impedanceMeasured(points) }
        let end_s = max(latestTime_s, points.map(\.time_s).max() ?? endTime_s ?? latestTime_s)
        latestTime_s = end_s
        output.events.append(
            RunEvent(
                kind: .impedanceMeasured, time_s: end_s,
                message: "step \(record.step.index): impedance spectrum of \(points.count) points",
                stepIndex: record.step.index))
        advance(after: .measured, at: end_s, into: &output)
        return output
    }

    /// Pauses the run for a reason outside the criteria (an instrument whose port went away): the step's clock
    /// and charge stand still and ``resume()`` continues it. Commands nothing: the instrument that would carry out
    /// an open circuit is the one that is gone. Does nothing when the run is finished or already paused.
    public mutating func suspend(_ verdict: Verdict) {
        guard !isFinished, pause == nil, currentStep != nil else { return }
        pause = verdict
    }

    /// Applies the paused step's current again (an operator's `resume`); does nothing unless the run is paused.
    ///
    /// The step continues where it stood: its remaining charge and time are those it had when it paused. The
    /// criteria are told the current was re-applied, so their models treat the following transient as new.
    public mutating func resume(reason: String = "resumed by the operator") -> EngineOutput {
        var output = EngineOutput()
        guard !isFinished, let paused = pause, let record = currentStep else { return output }
        pause = nil
        let step = record.step
        output.commands.append(command(for: step))
        output.events.append(
            RunEvent(
                kind: .operatorCommand, time_s: latestTime_s,
                message: "\(reason): step \(step.index) current re-applied after a pause by \(paused.criterion)",
                stepIndex: step.index))
        // The criteria see the step from here on as started afresh: the current's transient comes again, and a
        // model fitted before the pause would extrapolate across it.
        resumed = (latestTime_s, stepSampleCount)
        sampleQuality.resumed()
        waitWatch.start(step.wait, at: latestTime_s)
        let context = StepContext(
            step: step, startTime_s: latestTime_s, charge_C: record.charge_C, area_cm2: plan.area_cm2,
            threeElectrode: threeElectrode)
        for index in criteria.indices { criteria[index].stepResumed(context) }
        return output
    }

    /// Starts the current step again from its beginning at the latest sample's time: its charge and clock count
    /// afresh (a run interrupted by a restart, with `on_restart: restart-step`). Does nothing when the run is
    /// finished or no step runs.
    public mutating func restartCurrentStep(reason: String) -> EngineOutput {
        var output = EngineOutput()
        guard !isFinished, let record = currentStep else { return output }
        pause = nil
        output.events.append(
            RunEvent(
                kind: .operatorCommand, time_s: latestTime_s,
                message: "\(reason): step \(record.step.index) starts again from its beginning",
                stepIndex: record.step.index))
        begin(stepAt: record.step.index, time_s: latestTime_s, into: &output)
        return output
    }

    /// The input that ``apply(_:)`` would take now: `kind` with this run's sample count, to store beside the run.
    public func input(_ kind: RunInput.Kind, reason: String, verdict: Verdict? = nil) -> RunInput {
        RunInput(kind: kind, afterSamples: sampleCount, reason: reason, verdict: verdict)
    }

    /// Takes an input from outside the samples (see ``RunInput``): the daemon and a replay of a stored run call this
    /// alike, so both take the same course.
    public mutating func apply(_ input: RunInput) -> EngineOutput {
        switch input.kind {
        case .suspend:
            suspend(
                input.verdict
                    ?? Verdict(criterion: "operator", action: .pause, reason: input.reason, time_s: latestTime_s))
            return EngineOutput()
        case .resume: return resume(reason: input.reason)
        case .restartStep: return restartCurrentStep(reason: input.reason)
        }
    }

    /// Ends the run on an operator's abort, a fault or a shutdown; the cell goes to open circuit.
    public mutating func end(_ state: RunState, reason: String) -> EngineOutput {
        var output = EngineOutput()
        guard !isFinished else { return output }
        if started, currentStep != nil { endStep(.runEnded, at: latestTime_s, into: &output) }
        finish(RunOutcome(state: state, reason: reason), at: latestTime_s, into: &output)
        return output
    }

    // MARK: - Steps

    private mutating func endReason(of record: StepRecord, sample: InstrumentSample, judged: Bool, elapsed_s: Double)
        -> StepEndReason?
    {
        let step = record.step
        let tolerance = 1e-9
        if let limit = step.capacityLimit_C, record.charge_C >= limit * (1 - tolerance) { return .capacity }
        if let limit = step.durationLimit_s, elapsed_s >= limit - tolerance * max(1, limit) { return .duration }
        if let limit = step.voltageLimit_V, judged {
            let controlled = threeElectrode ? (sample.voltageWERE_V ?? sample.voltage_V) : sample.voltage_V
            if abs(controlled) >= limit { return .voltageLimit }
        }
        if step.kind.controlsPotential, judged {
            if let limit = step.currentLimit_A, abs(sample.current_A) >= limit { return .currentLimit }
            // The first sample may still carry the step change; the cut-off judges the hold from the second on.
            if let cutoff = step.currentCutoff_A, stepSampleCount > 1, abs(sample.current_A) <= cutoff {
                return .currentCutoff
            }
        }
        if judged, relaxation != nil {
            let controlled = threeElectrode ? (sample.voltageWERE_V ?? sample.voltage_V) : sample.voltage_V
            if relaxation!.add(time_s: sample.time_s, voltage_V: controlled) { return .relaxed }
        }
        return nil
    }

    /// A `current-window` stop when a potential-controlled step drives |I| to the rig's current limit.
    private func currentWindowVerdict(_ sample: InstrumentSample) -> Verdict? {
        guard let window = currentWindow_A, abs(sample.current_A) >= window * (1 - 1e-6) else { return nil }
        return Verdict(
            criterion: "current-window", action: .stop,
            reason: "|I| = \(formatNumber(abs(sample.current_A))) A reached the rig's current limit of "
                + "\(formatNumber(window)) A while the potential was set",
            time_s: sample.time_s)
    }

    private mutating func advance(after reason: StepEndReason, at time_s: Double, into output: inout EngineOutput) {
        guard let record = currentStep else { return }
        endStep(reason, at: time_s, into: &output)
        let next = record.step.index + 1
        if next < plan.steps.count {
            begin(stepAt: next, time_s: time_s, into: &output)
        } else {
            finish(
                RunOutcome(state: .completed, reason: "all \(plan.steps.count) steps ran"), at: time_s, into: &output)
        }
    }

    private mutating func begin(stepAt index: Int, time_s: Double, into output: inout EngineOutput) {
        let step = plan.steps[index]
        let record = StepRecord(step: step, startTime_s: time_s)
        currentStep = record
        stepSampleCount = 0
        stepPaused_s = 0
        resumed = nil
        relaxation = step.relaxation.map(RelaxationWatch.init)
        sampleQuality.stepStarted()
        waitWatch.start(step.wait, at: time_s)
        let context = StepContext(
            step: step, startTime_s: time_s, area_cm2: plan.area_cm2, threeElectrode: threeElectrode)
        for criterion in criteria.indices { criteria[criterion].stepStarted(context) }
        output.commands.append(command(for: step))
        if let setpoint = step.temperatureSetpoint_C { output.commands.append(.setTemperature(setpoint)) }
        output.steps.append(record)
        output.events.append(
            RunEvent(kind: .stepStarted, time_s: time_s, message: step.startMessage, stepIndex: step.index))
    }

    /// What the instrument does during `step`.
    private func command(for step: PlannedStep) -> InstrumentCommand {
        if let impedance = step.impedance { return .measureImpedance(impedance) }
        if let potential = step.potential { return .applyPotential(potential) }
        return step.current_A == 0 ? .openCircuit : .applyCurrent(step.current_A)
    }

    private mutating func endStep(_ reason: StepEndReason, at time_s: Double, into output: inout EngineOutput) {
        guard var record = currentStep else { return }
        record.endTime_s = time_s
        record.endReason = reason
        currentStep = nil
        output.steps.append(record)
        output.events.append(
            RunEvent(
                kind: .stepEnded, time_s: time_s,
                message: "step \(record.step.index) ended on \(reason.rawValue) after "
                    + "\(formatNumber((time_s - record.startTime_s), significantDigits: 6)) s",
                stepIndex: record.step.index))
    }

    private mutating func finish(_ result: RunOutcome, at time_s: Double, into output: inout EngineOutput) {
        outcome = result
        pause = nil
        currentStep = nil
        output.commands.append(.openCircuit)
        output.outcome = result
        var message = "run \(result.state.rawValue): \(result.reason)"
        if let ccd = result.ccd_mA_cm2 { message += "; CCD \(formatNumber(ccd)) mA/cm2" }
        output.events.append(RunEvent(kind: .runEnded, time_s: time_s, message: message, verdict: result.verdict))
    }
}
