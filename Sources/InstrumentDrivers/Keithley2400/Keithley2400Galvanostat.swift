public import Domain
public import Instruments
public import Transport

/// A Keithley 2400-series SourceMeter (or a compatible SMU) used as a galvanostat through SCPI over RS-232.
///
/// It sources current with a voltage compliance equal to the rig's voltage limit, measures voltage with
/// 4-wire remote sense, and uses the high-impedance output-off state (output relay open), so switching the
/// output off never puts 0 V across the cell. Samples are paced by the instrument's trigger delay (one
/// `:READ?` per sampling interval) and timed by its TIME element. Reaching compliance ends the step: the driver
/// switches the output off and reports it, matching the voltage window of the MethodSCRIPT driver.
///
/// Wiring: source HI and sense HI to the working electrode, LO to the counter electrode (or reference for
/// sense LO); then the 2400's positive current oxidises the working electrode, as IUPAC counts it.
/// Unlike MethodSCRIPT, the 2400 has no script timer, and its only self-timed output-off (`:SOUR:CLE:AUTO` with
/// `MODE TCO`) switches the output off at the end of every trigger burst while the instrument holds back all
/// host commands until the burst ends, so it cannot bound a step without interrupting the current. Without
/// `Options.outputInterlock` a dead host leaves the current flowing, held only by the voltage compliance; with it,
/// the output can only be on while the rear-panel interlock line (Digital I/O pin 8) is held low, by an external
/// watchdog that releases it when the host falls silent (see ADR 0004).
public actor Keithley2400Galvanostat: Galvanostat {
    /// Which terminal the working electrode is on.
    public enum Wiring: String, Sendable, Hashable, Codable {
        case highToWorkingElectrode = "high-to-we"
        case highToCounterElectrode = "high-to-ce"
    }

    /// What open circuit means for sampling.
    public enum OpenCircuitSampling: String, Sendable, Hashable, Codable {
        /// Output off, relay open: no samples can be taken (`nextSample` throws `notConfigured`).
        case outputOff = "output-off"
        /// Output on, sourcing 0 A with the compliance set: measures the open-circuit voltage; not relay-open.
        case zeroCurrent = "zero-current"
    }

    /// How the output-enable interlock (Digital I/O pin 8) is used.
    public enum OutputInterlock: Sendable, Hashable {
        /// Not used: the line has no effect on the output.
        case unused
        /// Enabled: the output can only be on while something (a fixture switch, a watchdog of unknown timing)
        /// holds the line low, and goes off (high impedance) when it is released.
        case line
        /// Enabled, and the line is held by a watchdog that releases it after `holdTime_s` without host traffic:
        /// sampling intervals longer than half the hold time are refused, since the host is silent while it waits.
        case watchdog(holdTime_s: Double)
    }

    /// Tuning that rarely changes.
    public struct Options: Sendable, Hashable {
        public var wiring: Wiring
        public var openCircuitSampling: OpenCircuitSampling
        /// 4-wire measurement (recommended for cells).
        public var remoteSense: Bool
        /// Integration time in power-line cycles (0.01 to 10).
        public var integrationPowerLineCycles: Double
        /// Extra time allowed for a reply beyond the sampling interval.
        public var replyTimeout: Duration
        /// The hardware bound on output on-time when the host dies.
        public var outputInterlock: OutputInterlock

        public init(
            wiring: Wiring = .highToWorkingElectrode, openCircuitSampling: OpenCircuitSampling = .outputOff,
            remoteSense: Bool = true, integrationPowerLineCycles: Double = 1, replyTimeout: Duration = .seconds(3),
            outputInterlock: OutputInterlock = .unused
        ) {
            self.wiring = wiring
            self.openCircuitSampling = openCircuitSampling
            self.remoteSense = remoteSense
            self.integrationPowerLineCycles = integrationPowerLineCycles
            self.replyTimeout = replyTimeout
            self.outputInterlock = outputInterlock
        }
    }

    /// Factory RS-232 speed.
    public static let defaultBaudRate = 9600
    /// Replies may end with CR, LF, CR LF or LF CR (front-panel setting).
    public static let framing = LineFramer.Configuration(terminator: .crOrLF, maxLineLength: 512)
    /// The 2400 processes a command when it receives CR.
    public static let commandTerminator = "\r"
    /// Bit 3 of the status element: the source is in real compliance.
    static let complianceBit = 1 << 3
    /// TIME wraps to 0 after 99 999.999 s.
    static let timeWrap_s = 100_000.0

    private enum Output: Sendable, Hashable {
        case unknown
        case off
        case current(Double)
    }

    private let channel: LineChannel
    private let conversation = ConversationLock()
    private let options: Options
    private var output = Output.unknown
    private var identity: InstrumentIdentity?
    private var samplingInterval_s: Double?
    private var limits: HardwareLimits?
    private var lastInstrumentTime_s: Double?
    private var wrapOffset_s = 0.0
    /// The interlock subsystem the firmware answered to: `:OUTP:INT` (manual revisions calling it interlock) or
    /// `:OUTP:ENAB` (older ones calling it output enable); nil until `configure` enabled it.
    private var interlockHeader: String?
    /// Set after a failed exchange: the error queue may hold what went wrong (e.g. 803 after the interlock
    /// switched the output off), so the next output change clears it first.
    private var clearErrorsFirst = false

    public init(transport: any ByteTransport, options: Options = Options()) {
        self.channel = LineChannel(
            transport: transport, framing: Self.framing, outgoingTerminator: Self.commandTerminator)
        self.options = options
    }

    private nonisolated var instrumentName: String { "Keithley 2400 on \(channel.portDescription)" }

    private var sign: Double { options.wiring == .highToWorkingElectrode ? 1 : -1 }

    public func identify() async throws -> InstrumentIdentity {
        try await exclusively {
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

    public func configure(samplingInterval_s: Double, limits: HardwareLimits) async throws {
        guard samplingInterval_s >= 0.05, samplingInterval_s.isFinite else {
            throw InstrumentError(.rejected, instrument: instrumentName, "sampling interval \(samplingInterval_s) s")
        }
        guard limits.voltage_V > 0, limits.voltage_V <= 210, limits.current_A > 0, limits.current_A <= 1.05 else {
            throw InstrumentError(.rejected, instrument: instrumentName, "limits outside the 2400's range: \(limits)")
        }
        if case .watchdog(let holdTime_s) = options.outputInterlock, samplingInterval_s > holdTime_s / 2 {
            throw InstrumentError(
                .rejected, instrument: instrumentName,
                "sampling interval \(samplingInterval_s) s is longer than half the interlock watchdog's hold time "
                    + "(\(holdTime_s) s): the host is silent while it waits for each reading, so the watchdog "
                    + "would switch the output off mid-step")
        }
        try await exclusively {
            self.samplingInterval_s = samplingInterval_s
            self.limits = limits
            try await switchOutputOff()
            try await command(
                "*CLS",
                ":SYST:RSEN \(options.remoteSense ? "ON" : "OFF")",
                ":SOUR:FUNC CURR",
                ":SOUR:CURR:MODE FIX",
                ":SOUR:CURR:RANG \(SCPINumber.format(limits.current_A))",
                ":SOUR:CURR:LEV 0",
                ":SOUR:CLE:AUTO OFF",
                ":SENS:FUNC \"VOLT\"",
                ":SENS:VOLT:PROT \(SCPINumber.format(limits.voltage_V))",
                ":SENS:VOLT:RANG \(SCPINumber.format(limits.voltage_V))",
                ":SENS:VOLT:NPLC \(SCPINumber.format(options.integrationPowerLineCycles))",
                ":FORM:ELEM VOLT,CURR,TIME,STAT",
                ":TRIG:COUN 1",
                ":TRIG:DEL \(SCPINumber.format(samplingInterval_s))")
            try await checkErrorQueue()
            if options.outputInterlock != .unused { try await enableInterlock() }
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
        try await exclusively { try await source(current_A * sign, limits: limits) }
    }

    public func openCircuit() async throws {
        try await exclusively {
            switch options.openCircuitSampling {
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

    public func nextSample() async throws -> InstrumentSample {
        try await exclusively {
            guard case .current = output, let interval = samplingInterval_s else {
                throw InstrumentError(
                    .notConfigured, instrument: instrumentName,
                    "the output is off, nothing to measure; apply a current (or use zero-current open circuit)")
            }
            let reply: String
            do {
                reply = try await query(":READ?", timeout: .seconds(interval) + options.replyTimeout)
            } catch let error as TransportError where error.kind == .timeout && interlockHeader != nil {
                output = .unknown
                clearErrorsFirst = true
                throw InstrumentError(
                    .timeout, instrument: instrumentName,
                    "no reply to :READ?; with the output interlock in use this is what a released interlock "
                        + "looks like (the output went off and the reading was abandoned): \(error.description)")
            }
            let values = reply.split(separator: ",").map { SCPINumber.parse($0) }
            guard values.count == 4, let voltage = values[0], let current = values[1], let time = values[2],
                let statusValue = values[3], statusValue.isFinite
            else {
                throw InstrumentError(.invalidReply, instrument: instrumentName, "unexpected :READ? reply \"\(reply)\"")
            }
            let sample = InstrumentSample(
                time_s: continuousTime(time), current_A: current * sign, voltage_V: voltage * sign)
            if Int(statusValue) & Self.complianceBit != 0 {
                try await switchOutputOff()
                throw InstrumentError(
                    .rejected, instrument: instrumentName,
                    "voltage compliance (\(limits?.voltage_V ?? 0) V) reached at \(voltage) V; output switched off")
            }
            return sample
        }
    }

    /// Closes the port. Does not touch the output: call `openCircuit()` first.
    public func close() async {
        await channel.close()
    }

    // MARK: - Conversation

    private func source(_ instrument_A: Double, limits: HardwareLimits) async throws {
        try await clearErrorsIfNeeded()
        if let interlockHeader {
            // `TRIP?` answers 1 when the line is low, i.e. the output may be switched on.
            let state = try await query("\(interlockHeader):TRIP?")
            guard SCPINumber.parse(state) == 1 else {
                throw InstrumentError(
                    .rejected, instrument: instrumentName,
                    "the output interlock is open (\(interlockHeader):TRIP? answered \(state)): nothing holds "
                        + "Digital I/O pin 8 low, so the output cannot be switched on; check the watchdog and "
                        + "its wiring")
            }
        }
        try await command(
            ":OUTP:SMOD HIMP",
            ":SENS:VOLT:PROT \(SCPINumber.format(limits.voltage_V))",
            ":SOUR:CURR:LEV \(SCPINumber.format(instrument_A))",
            ":OUTP ON")
        try await checkErrorQueue()
        output = .current(instrument_A)
    }

    /// Output off in the high-impedance state, confirmed by reading the output state back.
    private func switchOutputOff() async throws {
        try await clearErrorsIfNeeded()
        try await command(":OUTP:SMOD HIMP", ":OUTP OFF")
        let state = try await query(":OUTP?")
        guard SCPINumber.parse(state) == 0 else {
            throw InstrumentError(.rejected, instrument: instrumentName, "output still on after :OUTP OFF (\(state))")
        }
        output = .off
    }

    private func clearErrorsIfNeeded() async throws {
        guard clearErrorsFirst else { return }
        try await command("*CLS")
        clearErrorsFirst = false
    }

    /// Enables the interlock under whichever name the firmware knows, confirmed by reading the state back.
    private func enableInterlock() async throws {
        var refusals: [String] = []
        for header in [":OUTP:INT", ":OUTP:ENAB"] {
            try await command("\(header):STAT ON")
            do {
                try await checkErrorQueue()
            } catch let error as InstrumentError where error.message.hasPrefix("-113") {
                refusals.append("\(header):STAT ON: \(error.message)")
                continue
            }
            let state = try await query("\(header):STAT?")
            guard SCPINumber.parse(state) == 1 else {
                throw InstrumentError(
                    .rejected, instrument: instrumentName,
                    "the output interlock is still disabled after \(header):STAT ON (\(header):STAT? answered \(state))"
                )
            }
            interlockHeader = header
            return
        }
        throw InstrumentError(
            .rejected, instrument: instrumentName,
            "the instrument knows neither name of the output interlock: \(refusals.joined(separator: "; "))")
    }

    private func command(_ lines: String...) async throws {
        for line in lines { try await channel.send(line: line) }
    }

    private func query(_ line: String, timeout: Duration? = nil) async throws -> String {
        try await channel.send(line: line)
        return try await channel.readLine(timeout: timeout ?? options.replyTimeout)
    }

    /// Reads `:SYST:ERR?` until it reports no error; throws `rejected` naming every queued error.
    private func checkErrorQueue() async throws {
        var errors: [String] = []
        for _ in 0..<32 {
            let reply = try await query(":SYST:ERR?")
            guard let code = Int(String(reply.prefix { $0 != "," }).trimmingSpaces()) else {
                throw InstrumentError(
                    .invalidReply, instrument: instrumentName, "unexpected :SYST:ERR? reply \"\(reply)\"")
            }
            if code == 0 { break }
            errors.append(reply)
        }
        if !errors.isEmpty {
            throw InstrumentError(.rejected, instrument: instrumentName, errors.joined(separator: "; "))
        }
    }

    private func continuousTime(_ instrumentTime_s: Double) -> Double {
        if let last = lastInstrumentTime_s, instrumentTime_s + 1 < last { wrapOffset_s += Self.timeWrap_s }
        lastInstrumentTime_s = instrumentTime_s
        return instrumentTime_s + wrapOffset_s
    }

    /// Runs `body` holding the conversation lock; transport failures become `InstrumentError`s.
    private func exclusively<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        await conversation.acquire()
        let result: Result
        do {
            result = try await body()
        } catch let error as TransportError {
            await conversation.release()
            output = .unknown
            clearErrorsFirst = true
            let code: InstrumentError.Code =
                switch error.kind {
                case .timeout: .timeout
                case .garbled, .overlongLine: .invalidReply
                default: .disconnected
                }
            throw InstrumentError(code, instrument: instrumentName, error.description)
        } catch {
            await conversation.release()
            throw error
        }
        await conversation.release()
        return result
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
