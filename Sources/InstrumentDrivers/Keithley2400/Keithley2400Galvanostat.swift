public import Domain
public import Instruments
public import Transport

/// A Keithley 2400-series SourceMeter (or a compatible SMU) used as a galvanostat through SCPI over RS-232.
///
/// It sources current with a voltage compliance equal to the rig's voltage limit, measures voltage with
/// 4-wire remote sense, and uses the high-impedance output-off state (output relay open), so switching the
/// output off never puts 0 V across the cell. Samples are paced by the instrument's trigger delay (one
/// `:READ?` per sampling interval) and timed by its TIME element, which `configure` resets (`:SYST:TIME:RES`):
/// the element otherwise counts from power-on, and an instrument that has been on for hours would place the run's
/// first sample hours after its start. Reaching compliance ends the step: the driver switches the output off,
/// returns that reading flagged ``SampleFlags/overload``, and the next `nextSample()` reports the rejection.
///
/// Open circuit (`Keithley2400Configuration.openCircuit`) is for pauses between steps: `zero-current` keeps the
/// output on at 0 A to measure the rest voltage, `output-off` opens the relay. The end of a run, whatever ended it,
/// is ``finishRun()``: output off in the high-impedance state (`:OUTP:SMOD HIMP`, `:OUTP OFF`), confirmed with
/// `:OUTP?`. `openCircuit()` and `finishRun()` return once the instrument confirmed (its error queue empty after
/// 0 A, `:OUTP?` answering 0 after output off).
///
/// Wiring: source HI and sense HI to the working electrode, LO to the counter electrode (or reference for
/// sense LO); then the 2400's positive current oxidises the working electrode, as IUPAC counts it.
/// Unlike MethodSCRIPT, the 2400 has no script timer, and its only self-timed output-off (`:SOUR:CLE:AUTO` with
/// `MODE TCO`) switches the output off at the end of every trigger burst while the instrument holds back all
/// host commands until the burst ends, so it cannot bound a step without interrupting the current. Without
/// `output_interlock` a dead host leaves the current flowing, held only by the voltage compliance; with it, the
/// output can only be on while the rear-panel interlock line (Digital I/O pin 8) is held low, by an external
/// watchdog that releases it when the host falls silent (see ADR 0004).
///
/// As a ``Potentiostat`` it sources voltage (`:SOUR:FUNC VOLT`) with a current compliance (`:SENS:CURR:PROT`) a
/// tenth above the step's current limit, within the rig's, so the engine sees the limit reached before the
/// instrument clamps; reaching the compliance ends the step like a voltage compliance does in current mode. The
/// potential is the one the wiring senses (WE-RE with sense LO on the reference, else WE-CE). A sweep is a
/// staircase: before each `:READ?` the level is set to the programmed potential at that reading's time on the
/// instrument's clock (the latest reading's TIME plus the period between the latest two). Changing
/// between current and voltage sourcing passes through the output off; the end of a run is the same output off.
public actor Keithley2400Galvanostat: Galvanostat, Potentiostat {
    /// Factory RS-232 speed.
    public static let defaultBaudRate = 9600
    /// Replies may end with CR, LF, CR LF or LF CR (front-panel setting).
    public static let framing = LineFramer.Configuration(terminator: .crOrLF, maxLineLength: 512)
    /// The 2400 processes a command when it receives CR.
    public static let commandTerminator = "\r"
    /// Status bit 0: a reading was over range (OFLO).
    static let overRangeBit = 1 << 0
    /// Status bit 3: the source is in real compliance.
    static let complianceBit = 1 << 3
    /// TIME wraps to 0 after 99 999.999 s.
    static let timeWrap_s = 100_000.0
    /// Undecodable replies to `:READ?` in a row before the reading is given up as a fault.
    static let readAttempts = 3

    enum Output: Sendable, Hashable {
        case unknown
        case off
        case current(Double)
        case voltage(Double)
    }

    /// What the source is set up to drive (the output may be off).
    enum SourceFunction: Sendable, Hashable {
        case current
        case voltage(compliance_A: Double)
    }

    let channel: LineChannel
    let conversation = ConversationLock()
    let configuration: Keithley2400Configuration
    let replyTimeout: Duration
    var output = Output.unknown
    var sourceFunction = SourceFunction.current
    /// The running potential program, the instrument time it started at (that of the latest reading before it, 0
    /// after `configure` reset the clock) and the readings taken under it. A sweep's level follows the instrument's
    /// clock, not the reading count: a reading takes the trigger delay plus the integration time, more than the
    /// sampling interval.
    var program: (program: PotentialProgram, start_s: Double, readings: Int)?
    /// The instrument time of the latest reading, its wraps unfolded.
    var latestReadingTime_s: Double?
    /// The instrument time between the latest two readings: when the next reading will be taken.
    var readingPeriod_s: Double?
    var identity: InstrumentIdentity?
    var samplingInterval_s: Double?
    var limits: HardwareLimits?
    var lastInstrumentTime_s: Double?
    var wrapOffset_s = 0.0
    var discardedReadings = 0
    /// The rejection a compliance reading causes, reported by the call after the one that returned that reading
    /// (`nextSample()`, or `applyCurrent(_:)`, which then leaves the output off).
    var complianceRejection: InstrumentError?
    /// The interlock subsystem the firmware answered to: `:OUTP:INT` (manual revisions calling it interlock) or
    /// `:OUTP:ENAB` (older ones calling it output enable); nil until `configure` enabled it.
    var interlockHeader: String?
    /// Set after a failed exchange: the error queue may hold what went wrong (e.g. 803 after the interlock
    /// switched the output off), so the next output change clears it first.
    var clearErrorsFirst = false

    /// `configuration` is the rig file's `galvanostat:` entry; its `line` was used to open `transport`.
    public init(transport: any ByteTransport, configuration: Keithley2400Configuration) {
        self.channel = LineChannel(
            transport: transport, framing: Self.framing, outgoingTerminator: Self.commandTerminator)
        self.configuration = configuration
        self.replyTimeout = .seconds(configuration.replyTimeout_s)
    }

    nonisolated var instrumentName: String { "Keithley 2400 on \(channel.portDescription)" }

    var sign: Double { configuration.wiring == .highToWorkingElectrode ? 1 : -1 }

    public func identify() async throws -> InstrumentIdentity {
        try await conversing {
            if let identity { return identity }
            let reply = try await query("*IDN?")
            let fields = reply.split(separator: ",", omittingEmptySubsequences: false).map {
                String($0).trimmingSpaces()
            }
            guard fields.count >= 4 else {
                throw InstrumentError(.invalidReply, instrument: instrumentName, "unexpected *IDN? reply \"\(reply)\"")
            }
            var model = fields[1]
            if model.hasPrefix("MODEL ") { model = String(model.dropFirst(6)) }
            let maker = fields[0].hasPrefix("KEITHLEY") ? "Keithley" : fields[0]
            let found = InstrumentIdentity(
                role: "galvanostat", model: "\(maker) \(model)", firmware: fields[3], serialNumber: fields[2],
                port: channel.portDescription)
            identity = found
            return found
        }
    }

    /// Checks the limits against the identified model (a 2400 where none was identified, or for a compatible
    /// instrument of another maker), then sets up the source, resets the instrument's clock and enables the
    /// interlock if the rig uses one. The output is off, high impedance, afterwards.
    public func configure(samplingInterval_s: Double, limits: HardwareLimits) async throws {
        guard samplingInterval_s >= 0.05, samplingInterval_s.isFinite else {
            throw InstrumentError(
                .rejected, instrument: instrumentName,
                "sampling interval \(formatNumber(samplingInterval_s)) s; allowed: 0.05 s or longer")
        }
        guard limits.voltage_V > 0, limits.current_A > 0 else {
            throw InstrumentError(.rejected, instrument: instrumentName, "limits must be positive: \(limits)")
        }
        let model = identity.flatMap { Keithley2400Model.named(in: $0.model) }
        let description =
            model.map { "a Keithley \($0.number)" } ?? identity.map { "\($0.model) (checked as a Keithley 2400)" }
            ?? "a Keithley 2400"
        if let refusal = (model ?? Keithley2400Model.known[0]).check(limits, describing: description) {
            throw InstrumentError(.rejected, instrument: instrumentName, refusal)
        }
        if case .watchdog(let holdTime_s) = configuration.outputInterlock, samplingInterval_s > holdTime_s / 2 {
            throw InstrumentError(
                .rejected, instrument: instrumentName,
                "sampling interval \(samplingInterval_s) s is longer than half the interlock watchdog's hold time "
                    + "(\(holdTime_s) s): the host is silent while it waits for each reading, so the watchdog "
                    + "would switch the output off mid-step")
        }
        try await conversing {
            self.samplingInterval_s = samplingInterval_s
            self.limits = limits
            discardedReadings = 0
            complianceRejection = nil
            try await switchOutputOff()
            try await command(
                "*CLS",
                ":SYST:RSEN \(configuration.remoteSense ? "ON" : "OFF")",
                ":SOUR:FUNC CURR",
                ":SOUR:CURR:MODE FIX",
                ":SOUR:CURR:RANG \(SCPINumber.format(limits.current_A))",
                ":SOUR:CURR:LEV 0",
                ":SOUR:CLE:AUTO OFF",
                ":SENS:FUNC \"VOLT\"",
                ":SENS:VOLT:PROT \(SCPINumber.format(limits.voltage_V))",
                ":SENS:VOLT:RANG \(SCPINumber.format(limits.voltage_V))",
                ":SENS:VOLT:NPLC \(SCPINumber.format(configuration.integrationPowerLineCycles))",
                ":FORM:ELEM VOLT,CURR,TIME,STAT",
                ":TRIG:COUN 1",
                ":TRIG:DEL \(SCPINumber.format(samplingInterval_s))",
                ":SYST:TIME:RES")
            sourceFunction = .current
            program = nil
            lastInstrumentTime_s = nil
            latestReadingTime_s = nil
            readingPeriod_s = nil
            wrapOffset_s = 0
            try await checkErrorQueue()
            if configuration.outputInterlock != nil { try await enableInterlock() }
        }
    }

    public func applyCurrent(_ current_A: Double) async throws {
        guard let limits else {
            throw InstrumentError(.notConfigured, instrument: instrumentName, "configure before applying current")
        }
        guard abs(current_A) <= limits.current_A * (1 + 1e-9) else {
            throw InstrumentError(
                .rejected, instrument: instrumentName,
                "\(current_A) A exceeds the rig's current limit of \(limits.current_A) A")
        }
        try await conversing {
            // A compliance the run has not heard of yet ends it: the output stays off.
            if let complianceRejection {
                self.complianceRejection = nil
                throw complianceRejection
            }
            try await source(current_A * sign, limits: limits)
        }
    }

    /// Holds or sweeps the potential the wiring senses. The compliance is a tenth above the program's current
    /// compliance, within the rig's current limit.
    public func applyPotential(_ program: PotentialProgram) async throws {
        guard let limits, let interval = samplingInterval_s else {
            throw InstrumentError(.notConfigured, instrument: instrumentName, "configure before applying a potential")
        }
        if let outside = program.corners_V.first(where: { abs($0) > limits.voltage_V * (1 + 1e-9) }) {
            throw InstrumentError(
                .rejected, instrument: instrumentName,
                "\(formatNumber(outside)) V exceeds the rig's voltage limit of \(formatNumber(limits.voltage_V)) V")
        }
        let compliance_A = min(limits.current_A, currentWindow(for: program.currentCompliance_A ?? limits.current_A))
        try await conversing {
            if let complianceRejection {
                self.complianceRejection = nil
                throw complianceRejection
            }
            try await sourceVoltage(
                program.potential(atElapsed: readingPeriod_s ?? interval) * sign, compliance_A: compliance_A,
                limits: limits)
            self.program = (program, latestReadingTime_s ?? 0, 0)
        }
    }

    /// A pause between steps: 0 A with the output on (`zero-current`, the rest voltage is measured) or the output
    /// off, relay open (`output-off`). Returns once the instrument confirmed.
    public func openCircuit() async throws {
        try await conversing {
            switch configuration.openCircuit {
            case .outputOff:
                try await switchOutputOff()
            case .zeroCurrent:
                guard let limits else {
                    try await switchOutputOff()
                    return
                }
                try await source(0, limits: limits)
            }
        }
    }

    /// Ends the run whatever the open-circuit setting: output off in the high-impedance state (relay open),
    /// returning once `:OUTP?` answered 0.
    public func finishRun() async throws {
        try await conversing { try await switchOutputOff() }
    }

    public func nextSample() async throws -> InstrumentSample {
        try await conversing {
            if let complianceRejection {
                self.complianceRejection = nil
                throw complianceRejection
            }
            let sourcing: Bool
            switch output {
            case .current, .voltage: sourcing = true
            case .off, .unknown: sourcing = false
            }
            guard sourcing, let interval = samplingInterval_s else {
                throw InstrumentError(
                    .notConfigured, instrument: instrumentName,
                    "the output is off, nothing to measure; apply a current (or use zero-current open circuit)")
            }
            try await stepSweepLevel(interval_s: interval)
            for attempt in 1...Self.readAttempts {
                let reply: String
                do {
                    reply = try await read(timeout: .seconds(interval) + replyTimeout)
                } catch let error as TransportError where error.kind == .garbled || error.kind == .overlongLine {
                    discardedReadings += 1
                    if attempt == Self.readAttempts { throw error }
                    try await channel.drain(quietPeriod: .milliseconds(100))
                    continue
                }
                if let sample = try await sample(from: reply) { return sample }
                discardedReadings += 1
                if attempt == Self.readAttempts {
                    throw InstrumentError(
                        .invalidReply, instrument: instrumentName,
                        "unexpected :READ? reply \"\(reply)\" (\(attempt) undecodable replies in a row)")
                }
                // Drop whatever is left of the reply, so the next :READ? gets its own reply and not the rest of this.
                try await channel.drain(quietPeriod: .milliseconds(100))
            }
            throw InstrumentError(.invalidReply, instrument: instrumentName, "no decodable reading")
        }
    }

    /// Replies to `:READ?` received since `configure` that could not be turned into samples (garbled, truncated,
    /// or without a time); each was followed by a new reading.
    public var discardedReadingCount: Int { discardedReadings }

    /// The resolution of the voltage range `configure` selected (1 uV on 200 mV, 10 uV on 2 V, 100 uV on 20 V);
    /// nil before `configure` or for limits above 21 V.
    public var voltageResolution_V: Double? {
        limits.flatMap { Keithley2400Model.voltageResolution_V(forLimit: $0.voltage_V) }
    }

    /// Closes the port. Does not touch the output: call `finishRun()` first.
    public func close() async {
        await channel.close()
    }
}

extension String {
    /// Without leading and trailing spaces.
    func trimmingSpaces() -> String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
