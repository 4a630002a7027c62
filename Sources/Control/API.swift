import Domain

/// The control API's wire types (JSON, snake_case), shared by the daemon's server and the `cellrig` client.
///
/// HTTP/1.1 over the daemon's Unix socket, all under `/v1`; the routes are ``ControlRoute/all``.
public enum ControlAPI {
    public static let version = "v1"
}

/// `GET /v1/health`: the daemon is up, and where it keeps its data.
public struct HealthInfo: Sendable, Hashable, Codable {
    public var version: String
    public var database: String
    public var rigs: Int

    public init(version: String, database: String, rigs: Int) {
        self.version = version
        self.database = database
        self.rigs = rigs
    }
}

/// One rig as listed by `GET /v1/rigs`.
public struct RigInfo: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var galvanostat: String
    public var metal: String
    public var electrolyte: String
    public var electrode_area_cm2: Double
    public var busy: Bool
    public var run_id: Int64?
    /// Why the rig cannot run now (an instrument's port is absent), or nil when it can.
    public var unavailable: String?

    public init(
        id: String, name: String, galvanostat: String, metal: String, electrolyte: String, electrode_area_cm2: Double,
        busy: Bool, run_id: Int64?, unavailable: String? = nil
    ) {
        self.unavailable = unavailable
        self.id = id
        self.name = name
        self.galvanostat = galvanostat
        self.metal = metal
        self.electrolyte = electrolyte
        self.electrode_area_cm2 = electrode_area_cm2
        self.busy = busy
        self.run_id = run_id
    }
}

/// `POST /v1/runs`: start a protocol on a rig. The CLI sends the file's text, so the daemon needs no access to it.
public struct StartRunRequest: Sendable, Hashable, Codable {
    public var protocol_file: String
    public var protocol_text: String
    public var rig: String
    public var cell_label: String?
    /// Overrides the rig's electrode area.
    public var area_cm2: Double?
    /// Values for the protocol's `parameters:` (`name` -> text with unit).
    public var parameters: [String: String]

    public init(
        protocol_file: String, protocol_text: String, rig: String, cell_label: String? = nil, area_cm2: Double? = nil,
        parameters: [String: String] = [:]
    ) {
        self.protocol_file = protocol_file
        self.protocol_text = protocol_text
        self.rig = rig
        self.cell_label = cell_label
        self.area_cm2 = area_cm2
        self.parameters = parameters
    }

    /// Decodes a request; `parameters` may be left out when the protocol declares none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        protocol_file = try container.decode(String.self, forKey: .protocol_file)
        protocol_text = try container.decode(String.self, forKey: .protocol_text)
        rig = try container.decode(String.self, forKey: .rig)
        cell_label = try container.decodeIfPresent(String.self, forKey: .cell_label)
        area_cm2 = try container.decodeIfPresent(Double.self, forKey: .area_cm2)
        parameters = try container.decodeIfPresent([String: String].self, forKey: .parameters) ?? [:]
    }
}

/// Where a running run is now; streamed as `progress` events and embedded in ``RunStatus``.
public struct RunProgress: Sendable, Hashable, Codable {
    public var run_id: Int64
    public var step: Int
    public var steps: Int
    public var cycle: Int
    public var kind: String
    public var current_density_mA_cm2: Double
    public var current_A: Double
    public var voltage_V: Double
    public var voltage_we_re_V: Double?
    /// Cell time, seconds.
    public var time_s: Double
    public var samples: Int
    /// Share of the planned cell time done, 0 to 1.
    public var fraction_done: Double

    public init(
        run_id: Int64, step: Int, steps: Int, cycle: Int, kind: String, current_density_mA_cm2: Double,
        current_A: Double, voltage_V: Double, voltage_we_re_V: Double?, time_s: Double, samples: Int,
        fraction_done: Double
    ) {
        self.run_id = run_id
        self.step = step
        self.steps = steps
        self.cycle = cycle
        self.kind = kind
        self.current_density_mA_cm2 = current_density_mA_cm2
        self.current_A = current_A
        self.voltage_V = voltage_V
        self.voltage_we_re_V = voltage_we_re_V
        self.time_s = time_s
        self.samples = samples
        self.fraction_done = fraction_done
    }
}

/// A criterion verdict as the API shows it.
public struct VerdictInfo: Sendable, Hashable, Codable {
    public var criterion: String
    public var action: String
    public var reason: String
    public var time_s: Double
    public var onset_time_s: Double?
    public var current_density_mA_cm2: Double?
    public var evidence: [String: Double]

    public init(_ verdict: Verdict) {
        criterion = verdict.criterion
        action = verdict.action.rawValue
        reason = verdict.reason
        time_s = verdict.time_s
        onset_time_s = verdict.onsetTime_s
        current_density_mA_cm2 = verdict.currentDensity_mA_cm2
        evidence = verdict.evidence
    }
}

/// A simulator's ground-truth onset as the API shows it.
public struct TruthInfo: Sendable, Hashable, Codable {
    public var kind: String
    public var time_s: Double
    public var electrode: String?
    public var current_density_mA_cm2: Double

    public init(_ event: GroundTruthEvent) {
        kind = event.kind.rawValue
        time_s = event.time_s
        electrode = event.electrode
        current_density_mA_cm2 = event.currentDensity_mA_cm2
    }
}

/// One impedance spectrum of a run, summarised: where it was measured and the ends of its real part (the high
/// frequency end is about the electrolyte's resistance, the low frequency end adds the interfaces').
public struct SpectrumInfo: Sendable, Hashable, Codable {
    public var step: Int
    public var cycle: Int
    public var points: Int
    /// Cell time of the first point.
    public var time_s: Double
    public var first_frequency_Hz: Double
    public var last_frequency_Hz: Double
    /// Z' at the highest and at the lowest frequency measured.
    public var real_high_frequency_Ohm: Double
    public var real_low_frequency_Ohm: Double
    /// The fit of the circuit the step names, once made.
    public var fit: SpectrumFitInfo?

    public init(step: Int, cycle: Int, points: [ImpedancePoint]) {
        self.step = step
        self.cycle = cycle
        self.points = points.count
        time_s = points.first?.time_s ?? 0
        first_frequency_Hz = points.first?.frequency_Hz ?? 0
        last_frequency_Hz = points.last?.frequency_Hz ?? 0
        let byFrequency = points.sorted { $0.frequency_Hz < $1.frequency_Hz }
        real_high_frequency_Ohm = byFrequency.last?.real_Ohm ?? 0
        real_low_frequency_Ohm = byFrequency.first?.real_Ohm ?? 0
    }
}

/// The equivalent-circuit fit of one spectrum, as status shows it (the whole fit: `cellrig fit RUN --json`).
public struct SpectrumFitInfo: Sendable, Hashable, Codable {
    public var circuit: String
    /// The element taken as the interface and its resistance per interface (a symmetric cell's ASR / 2).
    public var interface_element: String?
    public var interface_Ohm_cm2: Double?
    public var interface_error_Ohm_cm2: Double?
    public var reduced_chi_square: Double
    /// False when the lin-KK check says the spectrum is not worth fitting.
    public var kramers_kronig_consistent: Bool

    public init(
        circuit: String, interface_element: String?, interface_Ohm_cm2: Double?, interface_error_Ohm_cm2: Double?,
        reduced_chi_square: Double, kramers_kronig_consistent: Bool
    ) {
        self.circuit = circuit
        self.interface_element = interface_element
        self.interface_Ohm_cm2 = interface_Ohm_cm2
        self.interface_error_Ohm_cm2 = interface_error_Ohm_cm2
        self.reduced_chi_square = reduced_chi_square
        self.kramers_kronig_consistent = kramers_kronig_consistent
    }

    public init(_ fit: ImpedanceFitResult) {
        circuit = fit.circuit.description
        interface_element = fit.interface?.element
        interface_Ohm_cm2 = fit.interface?.perInterface_Ohm_cm2
        interface_error_Ohm_cm2 = fit.interface?.perInterfaceStandardError_Ohm_cm2
        reduced_chi_square = fit.reducedChiSquare
        kramers_kronig_consistent = fit.kramersKronig.isConsistent
    }
}

/// A run event as the API shows it.
public struct EventInfo: Sendable, Hashable, Codable {
    public var run_id: Int64
    public var kind: String
    public var time_s: Double
    public var message: String
    public var step: Int?
    /// For verdicts: the criterion and what it asked for (`warn`, `end-step`, `pause`, `stop`).
    public var criterion: String?
    public var action: String?

    public init(runID: Int64, _ event: RunEvent) {
        run_id = runID
        kind = event.kind.rawValue
        time_s = event.time_s
        message = event.message
        step = event.stepIndex
        if event.kind == .verdict {
            criterion = event.verdict?.criterion
            action = event.verdict?.action.rawValue
        }
    }
}

/// `GET /v1/runs/{id}`: a run's state, result and, while it runs, its progress.
public struct RunStatus: Sendable, Hashable, Codable {
    public var id: Int64
    public var state: String
    public var protocol_name: String
    public var protocol_file: String
    public var protocol_sha256: String
    public var rig: String
    public var cell_label: String?
    public var area_cm2: Double
    public var created_at: String
    public var ended_at: String?
    public var reason: String?
    /// The critical current density found, once a short criterion has stopped the run.
    public var ccd_mA_cm2: Double?
    public var samples: Int
    public var planned_steps: Int
    /// For a run a criterion stopped: wall time from the tripping sample's arrival to the cell-off command.
    public var reaction_time_ms: Double?
    /// For a run a criterion stopped: wall time from the same arrival to the instrument's confirmation that the
    /// cell is off (its reply to the command).
    public var cell_off_confirmed_ms: Double?
    /// Lines or packages the instruments sent that could not be turned into samples (garbled, truncated).
    public var discarded_readings: Int?
    /// How many stored samples carry each quality flag (`overload`, `non-finite`, `late`, `pressure-missing`, ...);
    /// absent when none does.
    public var flagged_samples: [String: Int]?
    public var progress: RunProgress?
    public var verdicts: [VerdictInfo]
    /// What the run found so far (CCD, voiding per current).
    public var results: RunResultsInfo?
    /// The simulator's true onsets (simulated rigs only).
    public var truth: [TruthInfo]?
    /// The impedance spectra measured so far, one per impedance step; nil when the run has none.
    public var spectra: [SpectrumInfo]?

    public init(
        id: Int64, state: String, protocol_name: String, protocol_file: String, protocol_sha256: String, rig: String,
        cell_label: String?, area_cm2: Double, created_at: String, ended_at: String?, reason: String?,
        ccd_mA_cm2: Double?, samples: Int, planned_steps: Int, reaction_time_ms: Double? = nil,
        cell_off_confirmed_ms: Double? = nil, discarded_readings: Int? = nil, flagged_samples: [String: Int]? = nil,
        progress: RunProgress?, verdicts: [VerdictInfo], results: RunResultsInfo? = nil, truth: [TruthInfo]?,
        spectra: [SpectrumInfo]? = nil
    ) {
        self.spectra = spectra
        self.id = id
        self.state = state
        self.protocol_name = protocol_name
        self.protocol_file = protocol_file
        self.protocol_sha256 = protocol_sha256
        self.rig = rig
        self.cell_label = cell_label
        self.area_cm2 = area_cm2
        self.created_at = created_at
        self.ended_at = ended_at
        self.reason = reason
        self.ccd_mA_cm2 = ccd_mA_cm2
        self.samples = samples
        self.planned_steps = planned_steps
        self.reaction_time_ms = reaction_time_ms
        self.cell_off_confirmed_ms = cell_off_confirmed_ms
        self.discarded_readings = discarded_readings
        self.flagged_samples = flagged_samples
        self.progress = progress
        self.verdicts = verdicts
        self.results = results
        self.truth = truth
    }

    public var isFinal: Bool { RunState(rawValue: state)?.isFinal ?? true }
}

/// What a run found: the CCD with the criterion that found it, and the voiding verdict per stripping current.
public struct RunResultsInfo: Sendable, Hashable, Codable {
    /// The critical current density and the verdict behind it (its evidence holds the rule's parameters).
    public struct CriticalCurrentInfo: Sendable, Hashable, Codable {
        public var current_density_mA_cm2: Double
        public var criterion: String
        public var onset_time_s: Double?
        public var detection_time_s: Double
        public var evidence: [String: Double]

        public init(
            current_density_mA_cm2: Double, criterion: String, onset_time_s: Double?, detection_time_s: Double,
            evidence: [String: Double]
        ) {
            self.current_density_mA_cm2 = current_density_mA_cm2
            self.criterion = criterion
            self.onset_time_s = onset_time_s
            self.detection_time_s = detection_time_s
            self.evidence = evidence
        }
    }

    /// Whether stripping at one current density voided.
    public struct VoidingInfo: Sendable, Hashable, Codable {
        public var current_density_mA_cm2: Double
        public var stripping_steps: Int
        public var flagged_steps: Int
        public var voided: Bool

        public init(current_density_mA_cm2: Double, stripping_steps: Int, flagged_steps: Int, voided: Bool) {
            self.current_density_mA_cm2 = current_density_mA_cm2
            self.stripping_steps = stripping_steps
            self.flagged_steps = flagged_steps
            self.voided = voided
        }
    }

    public var ccd: CriticalCurrentInfo?
    public var voiding: [VoidingInfo]

    public init(ccd: CriticalCurrentInfo?, voiding: [VoidingInfo]) {
        self.ccd = ccd
        self.voiding = voiding
    }
}

/// The body of every error answer: what was wrong, for a person.
public struct ErrorBody: Sendable, Hashable, Codable {
    public var error: String

    public init(error: String) {
        self.error = error
    }
}

/// Names of the server-sent events on `/v1/runs/{id}/live`.
public enum LiveEventName {
    public static let progress = "progress"
    public static let event = "event"
    public static let end = "end"
    /// The daemon ended the stream because the follower fell too far behind; its data is an ``ErrorBody``.
    public static let disconnected = "disconnected"
    /// A message the daemon could not encode; its data is an ``ErrorBody`` and the stream goes on.
    public static let error = "error"

    /// Every event name the stream may carry.
    public static let all = [progress, event, end, disconnected, error]
}

/// One message on a run's live stream.
public enum LiveMessage: Sendable, Hashable {
    /// Where the run is; a slow follower may miss some (it gets the latest).
    case progress(RunProgress)
    /// Something that happened in the run; never dropped.
    case event(EventInfo)
    /// How the run ended; the stream's last message.
    case end(RunStatus)
    /// The follower fell too far behind and is disconnected; the stream's last message.
    case disconnected(String)
}
