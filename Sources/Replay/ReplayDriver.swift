import Domain
import Engine
import ProtocolFiles

/// One verdict found in a replay, with the step and cycle it belongs to.
public struct ReplayVerdict: Sendable, Hashable, Codable {
    public var stepIndex: Int?
    public var cycle: Int?
    public var verdict: Verdict
}

/// What a replay produced: every verdict other than `continue`, every event and step record, and the outcome.
public struct ReplayReport: Sendable, Hashable {
    public var verdicts: [ReplayVerdict]
    public var events: [RunEvent]
    public var steps: [StepRecord]
    public var outcome: RunOutcome?
    /// Samples the engine took before the run ended.
    public var samplesUsed: Int
    /// Samples left over after the run ended (a live run would not have recorded them).
    public var samplesAfterEnd: Int
    /// Times the replay resumed a paused step because the samples show its current again.
    public var resumes: Int
    public var results: RunResults
}

/// Runs a protocol's stop criteria offline over recorded samples, through the same ``RunEngine`` as a live run.
///
/// The samples are fed in order, so steps end on the same charge and time as they did live and the criteria see
/// the same step context. Where a live run was paused and resumed by an operator, the samples show the step's current
/// again; the replay resumes the engine just before the first such sample.
public struct ReplayDriver: Sendable {
    public private(set) var engine: RunEngine
    private var verdicts: [ReplayVerdict] = []
    private var events: [RunEvent] = []
    private var steps: [StepRecord] = []
    private var used = 0
    private var afterEnd = 0
    private var resumes = 0
    private var started = false
    /// The sampling interval of the replayed protocol, when known.
    private var samplingInterval_s: Double?
    /// An impedance step started and waits for its spectrum, which recorded samples do not hold.
    private var impedancePending = false
    /// The spectra the live run measured, by step index, when the replay has them (a stored run): an impedance step
    /// then ends with its real spectrum, exactly as it did live.
    public var spectra: [Int: [ImpedancePoint]] = [:]
    /// The live run's inputs from outside the samples (pauses, resumes, restarted steps), when the replay has them
    /// (a stored run): each is applied where the live run applied it, and no resume is guessed from the samples.
    public var inputs: [RunInput]? {
        didSet { nextInput = 0 }
    }
    private var nextInput = 0
    /// Every command the engine gave, after how many recorded samples: what the live run had its instrument do.
    public private(set) var commands: [(samplesBefore: Int, command: InstrumentCommand)] = []

    public init(engine: RunEngine, samplingInterval_s: Double? = nil) {
        self.engine = engine
        self.samplingInterval_s = samplingInterval_s
    }

    /// Builds the engine from protocol text, as the daemon does.
    public init(
        protocolText: String, file: String, parameters: [String: String] = [:], area_cm2: Double,
        context: RunContext = RunContext()
    ) throws(ReplaySetupError) {
        let testProtocol: TestProtocol
        do {
            testProtocol = try ProtocolFile.parse(protocolText, file: file, parameters: parameters)
        } catch {
            throw ReplaySetupError(message: error.description)
        }
        do {
            self.init(
                engine: try RunEngine(protocol: testProtocol, area_cm2: area_cm2, context: context),
                samplingInterval_s: testProtocol.samplingInterval_s)
        } catch {
            throw ReplaySetupError(message: error.description(file: file))
        }
    }

    /// Starts the run at `time_s` (a live run starts at 0, one sampling interval before its first sample).
    public mutating func start(at time_s: Double = 0) {
        started = true
        collect(engine.start(at: time_s))
    }

    /// Feeds one sample; starts the run at 0 first if ``start(at:)`` was not called.
    public mutating func feed(_ sample: InstrumentSample) {
        if !started { start(at: min(0, sample.time_s)) }
        guard !engine.isFinished else {
            afterEnd += 1
            return
        }
        applyInputs(upTo: engine.sampleCount)
        if inputs == nil, engine.isPaused, let step = engine.currentStep?.step, step.current_A != 0,
            sample.current_A * step.current_A > 0, abs(sample.current_A) > 0.5 * abs(step.current_A)
        {
            resumes += 1
            collect(engine.resume(reason: "replay: the samples show the step's current again"))
        }
        // A live impedance step ended with its spectrum's last point, one sampling interval before the next sample.
        while impedancePending, !engine.isFinished {
            impedancePending = false
            if let index = engine.currentStep?.step.index, let points = spectra[index] {
                collect(engine.impedanceMeasured(points))
            } else {
                let end_s = samplingInterval_s.map { sample.time_s - $0 } ?? engine.latestTime_s
                collect(engine.impedanceMeasured([], endTime_s: end_s))
            }
        }
        used += 1
        collect(engine.ingest(sample))
    }

    /// Applies the stored inputs that came after at most `sampleCount` samples.
    public mutating func applyInputs(upTo sampleCount: Int) {
        guard let inputs else { return }
        while nextInput < inputs.count, inputs[nextInput].afterSamples <= sampleCount, !engine.isFinished {
            let input = inputs[nextInput]
            nextInput += 1
            if input.kind == .resume { resumes += 1 }
            collect(engine.apply(input))
        }
    }

    /// Ends an impedance step still waiting for its spectrum with the stored one, if there is one (the replay of a run
    /// that stopped right after measuring it). Returns whether a step was ended.
    @discardableResult
    public mutating func settlePendingSpectrum() -> Bool {
        guard impedancePending, !engine.isFinished, let index = engine.currentStep?.step.index,
            let points = spectra[index]
        else { return false }
        impedancePending = false
        collect(engine.impedanceMeasured(points))
        return true
    }

    private mutating func collect(_ output: EngineOutput) {
        for command in output.commands {
            commands.append((engine.sampleCount, command))
            if case .measureImpedance = command { impedancePending = true }
        }
        steps += output.steps
        for event in output.events {
            events.append(event)
            if event.kind == .verdict, let verdict = event.verdict {
                let cycle = event.stepIndex.map { engine.plan.steps[$0].cycle }
                verdicts.append(ReplayVerdict(stepIndex: event.stepIndex, cycle: cycle, verdict: verdict))
            }
        }
    }

    public var report: ReplayReport {
        ReplayReport(
            verdicts: verdicts, events: events, steps: steps, outcome: engine.outcome, samplesUsed: used,
            samplesAfterEnd: afterEnd, resumes: resumes, results: RunResults(events: events, plan: engine.plan))
    }

    /// Replays a whole sequence of samples; the run starts at 0 unless the first sample is far later, in which case
    /// it starts one sampling interval before it.
    public static func replay(_ samples: [InstrumentSample], engine: RunEngine) -> ReplayReport {
        var driver = ReplayDriver(engine: engine)
        driver.start(at: startTime(for: samples))
        for sample in samples { driver.feed(sample) }
        return driver.report
    }

    /// Replays a stored run: its samples with the inputs from outside them (pauses, resumes, restarted steps) and
    /// the spectra it measured, each applied where the live run applied it, so the replay takes the live run's course.
    public static func replay(
        _ samples: [InstrumentSample], engine: RunEngine, inputs: [RunInput], spectra: [Int: [ImpedancePoint]]
    ) -> ReplayReport {
        var driver = ReplayDriver(engine: engine)
        driver.inputs = inputs
        driver.spectra = spectra
        driver.start(at: startTime(for: samples))
        for sample in samples { driver.feed(sample) }
        driver.applyInputs(upTo: samples.count)
        driver.settlePendingSpectrum()
        return driver.report
    }

    /// 0 for samples that begin within two sampling intervals of 0 (a cellrig run), else one interval before the
    /// first sample.
    public static func startTime(for samples: [InstrumentSample]) -> Double {
        guard let first = samples.first else { return 0 }
        let interval = samples.count > 1 ? max(0, samples[1].time_s - first.time_s) : first.time_s
        if first.time_s >= 0, first.time_s <= 2 * interval + 1e-9 { return 0 }
        return first.time_s - interval
    }
}

/// Why a replay could not be set up (protocol or plan).
public struct ReplaySetupError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
