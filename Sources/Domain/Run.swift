/// Where a run is in its life. Stored in the database and shown by `cellrig status`.
public enum RunState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Accepted, instruments not yet driven.
    case starting
    case running
    /// A guard paused it: the cell is at open circuit, samples are still recorded, `resume` continues the step.
    case paused
    /// Every planned step ran to its end.
    case completed
    /// A stop criterion ended the run (for a CCD test: the short was found).
    case stopped
    /// An operator aborted it.
    case aborted
    /// The daemon shut down (or died) while it ran; the cell was put at open circuit where possible.
    case interrupted
    /// An instrument or storage fault ended it.
    case faulted

    public var isFinal: Bool { self != .starting && self != .running && self != .paused }
}

/// What a stop criterion asks the engine to do with one sample.
public enum VerdictAction: String, Sendable, Hashable, Codable, Comparable, CaseIterable {
    case `continue`
    case warn
    case endStep = "end-step"
    case pause
    case stop

    private var severity: Int {
        switch self {
        case .continue: 0
        case .warn: 1
        case .endStep: 2
        case .pause: 3
        case .stop: 4
        }
    }

    public static func < (lhs: VerdictAction, rhs: VerdictAction) -> Bool { lhs.severity < rhs.severity }
}

/// A criterion's judgement with the evidence behind it. Every verdict other than `continue` becomes an event.
///
/// Evidence is always finite: a non-finite value given to it is kept out of ``evidence`` and listed by name in
/// ``undefinedEvidence``, and JSON writes it as `null` in the evidence object. Non-finite times and current
/// densities are written as `null` too, so a verdict can always be stored and streamed.
public struct Verdict: Sendable, Hashable, Codable {
    public var criterion: String
    public var action: VerdictAction
    /// One sentence for the operator: what was seen.
    public var reason: String
    /// Cell time of the sample that produced the verdict.
    public var time_s: Double
    /// Estimated cell time at which the detected condition began.
    public var onsetTime_s: Double?
    /// Current density (mA/cm2, magnitude) at the onset; for a short this is the CCD.
    public var currentDensity_mA_cm2: Double?
    /// Model state and thresholds, by name, for the record; finite values only.
    public var evidence: [String: Double] {
        get { finiteEvidence }
        set { (finiteEvidence, undefinedEvidence) = Self.split(newValue) }
    }
    /// Names of evidence that was given a non-finite value (infinite or not a number), sorted.
    public private(set) var undefinedEvidence: [String] = []
    private var finiteEvidence: [String: Double] = [:]

    public init(
        criterion: String, action: VerdictAction, reason: String, time_s: Double, onsetTime_s: Double? = nil,
        currentDensity_mA_cm2: Double? = nil, evidence: [String: Double] = [:]
    ) {
        self.criterion = criterion
        self.action = action
        self.reason = reason
        self.time_s = time_s
        self.onsetTime_s = onsetTime_s
        self.currentDensity_mA_cm2 = currentDensity_mA_cm2
        self.evidence = evidence
    }

    private static func split(_ values: [String: Double]) -> ([String: Double], [String]) {
        var finite: [String: Double] = [:]
        var undefined: [String] = []
        for (key, value) in values {
            if value.isFinite { finite[key] = value } else { undefined.append(key) }
        }
        return (finite, undefined.sorted())
    }

    private enum CodingKeys: String, CodingKey {
        case criterion, action, reason, time_s, onsetTime_s, currentDensity_mA_cm2, evidence
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        criterion = try container.decode(String.self, forKey: .criterion)
        action = try container.decode(VerdictAction.self, forKey: .action)
        reason = try container.decode(String.self, forKey: .reason)
        time_s = try container.decodeIfPresent(Double.self, forKey: .time_s) ?? .nan
        onsetTime_s = try container.decodeIfPresent(Double.self, forKey: .onsetTime_s)
        currentDensity_mA_cm2 = try container.decodeIfPresent(Double.self, forKey: .currentDensity_mA_cm2)
        let stored = try container.decodeIfPresent([String: Double?].self, forKey: .evidence) ?? [:]
        finiteEvidence = stored.compactMapValues { $0 }
        undefinedEvidence = stored.filter { $0.value == nil }.map(\.key).sorted()
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(criterion, forKey: .criterion)
        try container.encode(action, forKey: .action)
        try container.encode(reason, forKey: .reason)
        try container.encode(time_s.isFinite ? time_s : nil, forKey: .time_s)
        try container.encodeIfPresent(onsetTime_s.flatMap { $0.isFinite ? $0 : nil }, forKey: .onsetTime_s)
        try container.encodeIfPresent(
            currentDensity_mA_cm2.flatMap { $0.isFinite ? $0 : nil }, forKey: .currentDensity_mA_cm2)
        var all: [String: Double?] = finiteEvidence.mapValues { $0 }
        for key in undefinedEvidence { all[key] = .some(nil) }
        try container.encode(all, forKey: .evidence)
    }
}

/// Why a step ended.
public enum StepEndReason: String, Sendable, Hashable, Codable {
    case capacity
    case duration
    case voltageLimit = "voltage-limit"
    /// A potential-controlled step's current rose to its limit.
    case currentLimit = "current-limit"
    /// A potentiostatic hold's current fell to its cut-off.
    case currentCutoff = "current-cutoff"
    /// A rest's voltage relaxed (its `until: dV/dt < X for Y` rule held).
    case relaxed
    case criterion
    /// An impedance step's spectrum was measured.
    case measured
    /// A wait step's conditions held for their settling times.
    case settled
    case runEnded = "run-ended"
}

/// Something that happened in a run, on cell time. Stored in the `events` table and streamed live.
public struct RunEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case runStarted = "run-started"
        case stepStarted = "step-started"
        case impedanceMeasured = "impedance-measured"
        /// An impedance step's spectrum was fitted with the step's circuit (or could not be).
        case impedanceFitted = "impedance-fitted"
        case stepEnded = "step-ended"
        case verdict
        case fault
        case operatorCommand = "operator"
        case runEnded = "run-ended"
    }

    public var kind: Kind
    /// Cell time (instrument clock) when it happened.
    public var time_s: Double
    public var message: String
    public var stepIndex: Int?
    public var verdict: Verdict?

    public init(kind: Kind, time_s: Double, message: String, stepIndex: Int? = nil, verdict: Verdict? = nil) {
        self.kind = kind
        self.time_s = time_s
        self.message = message
        self.stepIndex = stepIndex
        self.verdict = verdict
    }
}

/// How a run ended and what it found.
public struct RunOutcome: Sendable, Hashable, Codable {
    public var state: RunState
    public var reason: String
    /// Critical current density (mA/cm2) when a short criterion stopped the run.
    public var ccd_mA_cm2: Double?
    /// The criterion verdict that ended the run, if one did.
    public var verdict: Verdict?
    /// Cell-off command: wall time from the arrival of the sample that tripped a stop to the cell-off command handed
    /// to the instrument, measured by the daemon.
    public var reactionTime_s: Double?
    /// Cell-off confirmation: wall time from the same arrival to the instrument's confirmation that its output is
    /// off (its reply to the command, or its first open-circuit reading), measured by the daemon.
    public var cellOffConfirmedTime_s: Double?

    public init(
        state: RunState, reason: String, ccd_mA_cm2: Double? = nil, verdict: Verdict? = nil,
        reactionTime_s: Double? = nil, cellOffConfirmedTime_s: Double? = nil
    ) {
        self.state = state
        self.reason = reason
        self.ccd_mA_cm2 = ccd_mA_cm2
        self.verdict = verdict
        self.reactionTime_s = reactionTime_s
        self.cellOffConfirmedTime_s = cellOffConfirmedTime_s
    }
}

/// A moment the simulator knows to be true (a short or voiding really began), stored to score criteria.
public struct GroundTruthEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case dendriteInitiation = "dendrite-initiation"
        case softShort = "soft-short"
        case hardShort = "hard-short"
        case voidingOnset = "voiding-onset"
    }

    public var kind: Kind
    /// Cell time of the onset.
    public var time_s: Double
    /// Which electrode (`WE` or `CE`) where it matters.
    public var electrode: String?
    /// Nominal current density (magnitude, mA/cm2) at that moment.
    public var currentDensity_mA_cm2: Double

    public init(kind: Kind, time_s: Double, electrode: String? = nil, currentDensity_mA_cm2: Double) {
        self.kind = kind
        self.time_s = time_s
        self.electrode = electrode
        self.currentDensity_mA_cm2 = currentDensity_mA_cm2
    }
}

/// Something from outside the samples that changed a run's course: a pause for a lost instrument or a restart, an
/// operator's resume, a step run again after a restart. Stored with the number of samples before it, so a replay
/// of a stored run takes the same course as the live run.
public struct RunInput: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The run paused at open circuit for a reason outside the criteria.
        case suspend
        /// The paused step's current was applied again.
        case resume
        /// The current step started again from its beginning.
        case restartStep = "restart-step"
    }

    public var kind: Kind
    /// How many samples the run had recorded when it came.
    public var afterSamples: Int
    public var reason: String
    /// For a suspend: the verdict that paused the run.
    public var verdict: Verdict?

    public init(kind: Kind, afterSamples: Int, reason: String, verdict: Verdict? = nil) {
        self.kind = kind
        self.afterSamples = afterSamples
        self.reason = reason
        self.verdict = verdict
    }
}
