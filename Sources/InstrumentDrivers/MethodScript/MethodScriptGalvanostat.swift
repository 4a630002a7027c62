public import Domain
public import Instruments
public import Transport

/// A PalmSens EmStat4 or Nexus driven through MethodSCRIPT: the rig's galvanostat.
///
/// Each output state is one generated script (see `MethodScriptScripts`): a constant-current step with the
/// voltage window enforced by the instrument, or an open-circuit measurement with the cell off. Scripts are
/// bounded by `Options.maximumScriptDuration_s` and renewed while the host keeps reading; every script
/// switches the cell off when it ends or is aborted. Samples are timed by the instrument's script timer,
/// each script continuing from the previous script's last sample. The first operation synchronises with the
/// instrument (aborting any script a previous host left running) and switches the cell off.
///
/// Every package a script of this driver sends becomes a sample: those that arrive while the driver aborts the
/// script (to change the output, to finish the run, or to resynchronise after a fault) are decoded like any
/// other and queued; `nextSample()` returns the queue first, and `takePendingSamples()` hands it over at the
/// end of a run. Only packages that cannot be decoded, or that a script of another host sent before the
/// first synchronisation, are dropped; `discardedPackageCount` counts them.
///
/// The driver measures the WE potential against the RE input (`ab`); wire RE to CE for a two-electrode cell,
/// so `voltage_V` is WE minus CE. For a three-electrode cell (``measureBothVoltages(_:)``) `ab` is WE minus RE
/// and a separate WE-CE reading (`ag`) after every point gives `voltage_V`.
public actor MethodScriptGalvanostat: Galvanostat, ImpedanceAnalyzer {
    /// How the instrument's current sign relates to IUPAC (positive = working electrode oxidised).
    public enum CurrentSign: String, Sendable, Hashable, Codable {
        case sameAsIUPAC = "same-as-iupac"
        case oppositeToIUPAC = "opposite-to-iupac"

        var factor: Double { self == .sameAsIUPAC ? 1 : -1 }
    }

    /// Tuning that rarely changes; the defaults suit an EmStat4 on USB.
    public struct Options: Sendable, Hashable {
        /// The longest a script runs before it switches the cell off by itself (and the driver renews it).
        public var maximumScriptDuration_s: Double
        /// The longest wait for a reply to a command.
        public var replyTimeout: Duration
        /// The longest wait for a running script to end after an abort.
        public var abortTimeout: Duration
        /// The pause after an error reply, during which the instrument ignores input.
        public var errorRecoveryDelay: Duration
        /// 50 or 60 Hz; the instrument integrates over whole mains periods.
        public var mainsFrequency_Hz: Int
        public var currentSign: CurrentSign

        public init(
            maximumScriptDuration_s: Double = 3600, replyTimeout: Duration = .seconds(2),
            abortTimeout: Duration = .seconds(30), errorRecoveryDelay: Duration = .milliseconds(150),
            mainsFrequency_Hz: Int = 50, currentSign: CurrentSign = .sameAsIUPAC
        ) {
            self.maximumScriptDuration_s = maximumScriptDuration_s
            self.replyTimeout = replyTimeout
            self.abortTimeout = abortTimeout
            self.errorRecoveryDelay = errorRecoveryDelay
            self.mainsFrequency_Hz = mainsFrequency_Hz
            self.currentSign = currentSign
        }
    }

    /// EmStat4 and Nexus over USB or UART (EmStat4 firmware 1.1 and older: 230400).
    public static let defaultBaudRate = 921_600
    /// Replies end with LF; stray CR, NUL and XON/XOFF bytes are dropped.
    public static let framing = LineFramer.Configuration(terminator: .lf, maxLineLength: 1000)

    private enum Step: Sendable, Hashable {
        case constantCurrent(instrument_A: Double)
        case openCircuit
        /// An impedance spectrum; its packages are points, not samples.
        case impedance
    }

    private enum Activity: Sendable, Hashable {
        case unsynchronised
        case idle
        case running(Step)
    }

    private let channel: LineChannel
    private let conversation = ConversationLock()
    private let options: Options
    private var activity = Activity.unsynchronised
    private var identity: InstrumentIdentity?
    private var samplingInterval_s: Double?
    private var limits: HardwareLimits?
    private var timeOrigin_s = 0.0
    private var lastSampleTime_s: Double?
    private var voltageLimitReported = false
    /// Three-electrode cell: packages carry WE-RE (`ab`) and WE-CE (`ag`).
    private var bothVoltages = false
    /// The potential of the latest open-circuit sample: the DC level of a potentiostatic spectrum.
    private var lastOpenCircuitPotential_V: Double?
    private var packagesInCurrentScript = 0
    private var discardedPackages = 0
    /// The step of the script this driver started last, until the instrument is known to be idle: packages read
    /// while aborting or resynchronising were measured under it.
    private var scriptStep: Step?
    /// Samples decoded outside `nextSample()`, oldest first, waiting to be returned.
    private var pendingSamples: [InstrumentSample] = []

    public init(transport: any ByteTransport, options: Options = Options()) {
        self.channel = LineChannel(transport: transport, framing: Self.framing, outgoingTerminator: "\n")
        self.options = options
    }

    private nonisolated var instrumentName: String { "MethodSCRIPT on \(channel.portDescription)" }

    public func identify() async throws -> InstrumentIdentity {
        try await guarded {
            if let identity { return identity }
            try await ensureIdle()
            try await channel.send(line: "t")
            let first = try await readLine(timeout: options.replyTimeout)
            guard first.hasPrefix("t"), !first.contains("!"), first.count >= 7 else {
                throw InstrumentError(.invalidReply, instrument: instrumentName, "unexpected reply to t: \"\(first)\"")
            }
            var last = first
            var linesRead = 1
            while !last.hasSuffix("*") {
                guard linesRead < 8 else {
                    throw InstrumentError(.invalidReply, instrument: instrumentName, "version text does not end")
                }
                last = try await readLine(timeout: options.replyTimeout)
                linesRead += 1
            }
            let deviceID = String(first.dropFirst().prefix(6))
            let firmware = String(first.dropFirst(7))
            try await channel.send(line: "i")
            let serialLine = try await readLine(timeout: options.replyTimeout)
            guard serialLine.hasPrefix("i"), !serialLine.hasPrefix("i!") else {
                throw InstrumentError(
                    .invalidReply, instrument: instrumentName, "unexpected reply to i: \"\(serialLine)\"")
            }
            let found = InstrumentIdentity(
                role: "galvanostat", model: Self.modelName(deviceID: deviceID), firmware: firmware,
                serialNumber: String(serialLine.dropFirst()), port: channel.portDescription)
            identity = found
            return found
        }
    }

    public func configure(samplingInterval_s: Double, limits: HardwareLimits) async throws {
        guard samplingInterval_s >= 0.001, samplingInterval_s.isFinite else {
            throw InstrumentError(.rejected, instrument: instrumentName, "sampling interval \(samplingInterval_s) s")
        }
        guard limits.voltage_V > 0, limits.current_A > 0 else {
            throw InstrumentError(.rejected, instrument: instrumentName, "limits must be positive: \(limits)")
        }
        try await guarded {
            try await ensureIdle()
            self.samplingInterval_s = samplingInterval_s
            self.limits = limits
        }
    }

    public func applyCurrent(_ current_A: Double) async throws {
        guard let limits, samplingInterval_s != nil else {
            throw InstrumentError(.notConfigured, instrument: instrumentName, "configure before applying current")
        }
        guard abs(current_A) <= limits.current_A * (1 + 1e-9) else {
            throw InstrumentError(
                .rejected, instrument: instrumentName,
                "\(current_A) A exceeds the rig's current limit of \(limits.current_A) A")
        }
        if let model = identity?.model, model.contains("Pico") || model.contains("Sensit") {
            throw InstrumentError(.rejected, instrument: instrumentName, "\(model) has no galvanostatic mode")
        }
        try await guarded {
            try await ensureIdle()
            try await start(.constantCurrent(instrument_A: current_A * options.currentSign.factor))
        }
    }

    public func openCircuit() async throws {
        try await guarded {
            try await ensureIdle()
            if samplingInterval_s != nil, limits != nil { try await start(.openCircuit) }
        }
    }

    public func nextSample() async throws -> InstrumentSample {
        try await guarded {
            if !pendingSamples.isEmpty { return pendingSamples.removeFirst() }
            var skippedLines = 0
            while true {
                guard case .running(let step) = activity, let interval = samplingInterval_s else {
                    throw InstrumentError(
                        .notConfigured, instrument: instrumentName,
                        "no step running; apply a current or open the circuit")
                }
                let text: String
                do {
                    text = try await channel.readLine(timeout: .seconds(2 * interval) + options.replyTimeout)
                } catch let error as TransportError where error.kind == .garbled || error.kind == .overlongLine {
                    skippedLines += 1
                    if skippedLines > 10 { throw error }
                    continue
                }
                let line: MethodScriptStreamLine
                do {
                    line = try MethodScriptStreamLine(text)
                } catch {
                    if text.hasPrefix("P") { discardedPackages += 1 }
                    skippedLines += 1
                    if skippedLines > 10 {
                        throw InstrumentError(.invalidReply, instrument: instrumentName, "undecodable")
                    }
                    continue
                }
                switch line {
                case .package(let variables):
                    packagesInCurrentScript += 1
                    return try sample(from: variables, step: step)
                case .text(let text) where text == MethodScriptScripts.voltageLimitMarker:
                    voltageLimitReported = true
                case .runtimeError(let code, _):
                    becameIdle()
                    try await runCellOffScript()
                    throw InstrumentError(
                        .rejected, instrument: instrumentName,
                        "the instrument stopped the script: \(MethodScriptErrorCode.describe(code)); cell switched off")
                case .scriptEnded:
                    becameIdle()
                    if voltageLimitReported {
                        throw InstrumentError(
                            .rejected, instrument: instrumentName,
                            "the potential left the +/-\(limits?.voltage_V ?? 0) V window; the instrument switched the cell off"
                        )
                    }
                    guard packagesInCurrentScript > 0 else {
                        throw InstrumentError(
                            .invalidReply, instrument: instrumentName,
                            "the script ended without sending data; not renewing it")
                    }
                    try await start(step)
                default:
                    continue
                }
            }
        }
    }

    /// Measures one impedance spectrum with a script of its own (see `MethodScriptScripts.impedance`), after
    /// stopping whatever ran (its packages are queued as samples). A potentiostatic spectrum is taken around
    /// the latest open-circuit potential this driver read (0 V if none), a galvanostatic one around zero
    /// current. The script ends by itself after its last frequency and switches the cell off; the instrument is
    /// idle afterwards. Point times continue the instrument clock of the samples.
    public func measureImpedance(_ settings: ImpedanceSettings) async throws -> [ImpedancePoint] {
        guard let limits, let interval = samplingInterval_s else {
            throw InstrumentError(.notConfigured, instrument: instrumentName, "configure before measuring impedance")
        }
        if let model = identity?.model, let highest = Self.highestImpedanceFrequency_Hz(model: model),
            settings.maximumFrequency_Hz > highest
        {
            throw InstrumentError(
                .rejected, instrument: instrumentName,
                "\(model) measures impedance up to \(formatNumber(highest)) Hz; the step asks for "
                    + "\(formatNumber(settings.maximumFrequency_Hz)) Hz")
        }
        return try await guarded {
            try await ensureIdle()
            let dcLevel = settings.control == .potentiostatic ? (lastOpenCircuitPotential_V ?? 0) : 0
            let script = MethodScriptScripts.impedance(
                settings, dcLevel: dcLevel, currentRange_A: limits.current_A, voltageLimit_V: limits.voltage_V)
            if let last = lastSampleTime_s { timeOrigin_s = last + interval }
            scriptStep = nil  // spectrum packages are not samples
            try await sendScript(script)
            activity = .running(.impedance)
            var points: [ImpedancePoint] = []
            let pointTimeout =
                options.replyTimeout
                + .seconds(
                    4
                        * ImpedanceSettings.pointDuration_s(
                            atFrequency: min(settings.startFrequency_Hz, settings.endFrequency_Hz)))
            while true {
                switch try await readStreamLine(timeout: max(pointTimeout, options.abortTimeout)) {
                case .package(let variables):
                    guard let time = variables.first(where: { $0.type == "eb" })?.value,
                        let frequency = variables.first(where: { $0.type == "dc" })?.value,
                        let real = variables.first(where: { $0.type == "cc" })?.value,
                        let imaginary = variables.first(where: { $0.type == "cd" })?.value
                    else {
                        discardedPackages += 1
                        continue
                    }
                    let point = ImpedancePoint(
                        time_s: timeOrigin_s + time, frequency_Hz: frequency, real_Ohm: real, imaginary_Ohm: imaginary)
                    lastSampleTime_s = point.time_s
                    points.append(point)
                case .runtimeError(let code, _):
                    becameIdle()
                    try await runCellOffScript()
                    throw InstrumentError(
                        .rejected, instrument: instrumentName,
                        "the instrument stopped the impedance script after \(points.count) points: "
                            + "\(MethodScriptErrorCode.describe(code)); cell switched off")
                case .scriptEnded:
                    becameIdle()
                    return points
                default:
                    continue
                }
            }
        }
    }

    /// Three-electrode cells: the scripts measure WE-RE on the instrument's RE input (`ab`, the controlled
    /// quantity and the voltage window) and WE-CE with a `meas` of `ag` after every point. Takes effect with the
    /// next script.
    public func measureBothVoltages(_ enabled: Bool) async throws {
        await conversation.acquire()
        bothVoltages = enabled
        await conversation.release()
    }

    /// Aborts a running script (the instrument runs its `on_finished:` block, switching the cell off).
    public func abortScript() async throws {
        try await guarded {
            switch activity {
            case .idle: return
            case .unsynchronised: try await synchronize()
            case .running: try await abortRunningScript()
            }
        }
    }

    /// Ends the run: aborts a running script (its packages are queued), runs the cell-off script and leaves the
    /// instrument idle. Unlike `openCircuit()`, starts no open-circuit measurement that nobody would read.
    public func finishRun() async throws {
        try await guarded {
            switch activity {
            case .unsynchronised:
                try await synchronize()  // ends with the cell-off script
            case .running:
                if !(try await abortRunningScript()) { try await runCellOffScript() }
            case .idle:
                try await runCellOffScript()
            }
        }
    }

    /// The samples decoded from packages read while aborting a script and not yet returned by `nextSample()`,
    /// oldest first; they are forgotten here. Waits for a conversation under way (an abort) to end first.
    public func takePendingSamples() async -> [InstrumentSample] {
        await conversation.acquire()
        let samples = pendingSamples
        pendingSamples.removeAll()
        await conversation.release()
        return samples
    }

    /// Data packages the instrument sent that the driver read and dropped: package lines it could not decode,
    /// and packages of a script another host left running, read while synchronising before this driver started
    /// any script. With the samples returned, they account for every package the instrument sent.
    public var discardedPackageCount: Int { discardedPackages }

    /// Closes the port. Does not touch the cell: call `finishRun()` first.
    public func close() async {
        await channel.close()
    }

    // MARK: - Conversation

    private func ensureIdle() async throws {
        switch activity {
        case .idle: return
        case .unsynchronised: try await synchronize()
        case .running: try await abortRunningScript()
        }
    }

    /// Brings an instrument in any state to idle with the cell off.
    private func synchronize() async throws {
        await channel.discardBuffered()
        try await channel.send(line: "")
        try await channel.send(line: "Z")
        scan: while true {
            let line = try await readStreamLine(timeout: options.abortTimeout)
            switch line {
            case .commandError(command: "Z", _, _):
                try await recoverFromErrorReply()
                break scan
            case .acknowledgement("Z"):
                try await readUntilScriptEnds()
                break scan
            case .package(let variables):
                keep(variables)
            case .unrecognised(let text) where text.hasPrefix("P"):
                discardedPackages += 1
            default:
                continue
            }
        }
        becameIdle()
        try await runCellOffScript()
    }

    /// Aborts the running script, queueing the packages that arrive meanwhile; returns whether it also ran the
    /// cell-off script (after a runtime error, when the script's `on_finished:` block did not run).
    @discardableResult
    private func abortRunningScript() async throws -> Bool {
        try await channel.send(line: "Z")
        var acknowledged = false
        var needsCellOff = false
        scan: while true {
            switch try await readStreamLine(timeout: options.abortTimeout) {
            case .acknowledgement("Z"): acknowledged = true
            case .package(let variables): keep(variables)
            case .unrecognised(let text) where text.hasPrefix("P"): discardedPackages += 1
            case .scriptEnded: break scan
            case .runtimeError:
                needsCellOff = true
                break scan
            default: continue
            }
        }
        if !acknowledged {
            // The script ended before the Z arrived; the idle instrument answers it with Z!0006.
            while true {
                if case .commandError(command: "Z", _, _) = try await readStreamLine(timeout: options.replyTimeout) {
                    break
                }
            }
            try await recoverFromErrorReply()
        }
        becameIdle()
        if needsCellOff { try await runCellOffScript() }
        return needsCellOff
    }

    /// Queues the sample a package read outside `nextSample()` holds, decoded as `nextSample()` would decode it
    /// (same step, same time origin); counts it as discarded when it cannot be decoded or no script of this
    /// driver sent it.
    private func keep(_ variables: [MethodScriptVariable]) {
        guard let step = scriptStep, let sample = try? sample(from: variables, step: step) else {
            discardedPackages += 1
            return
        }
        pendingSamples.append(sample)
    }

    /// Notes that no script of this driver runs any more.
    private func becameIdle() {
        activity = .idle
        scriptStep = nil
    }

    private func start(_ step: Step) async throws {
        guard let interval = samplingInterval_s, let limits else {
            throw InstrumentError(.notConfigured, instrument: instrumentName, "not configured")
        }
        let script: [String]
        switch step {
        case .constantCurrent(let instrument_A):
            script = MethodScriptScripts.constantCurrent(
                current_A: instrument_A, interval_s: interval, duration_s: options.maximumScriptDuration_s,
                voltageLimit_V: limits.voltage_V, mainsFrequency_Hz: options.mainsFrequency_Hz,
                bothVoltages: bothVoltages)
        case .openCircuit:
            script = MethodScriptScripts.openCircuit(
                interval_s: interval, duration_s: options.maximumScriptDuration_s, voltageLimit_V: limits.voltage_V,
                mainsFrequency_Hz: options.mainsFrequency_Hz, bothVoltages: bothVoltages)
        case .impedance:
            throw InstrumentError(.rejected, instrument: instrumentName, "a spectrum is not renewed")
        }
        if let last = lastSampleTime_s { timeOrigin_s = last + interval }
        voltageLimitReported = false
        packagesInCurrentScript = 0
        scriptStep = step
        do {
            try await sendScript(script)
        } catch let error as InstrumentError where error.code == .rejected {
            scriptStep = nil  // the instrument refused the script: nothing runs
            throw error
        }
        activity = .running(step)
    }

    private func runCellOffScript() async throws {
        try await sendScript(MethodScriptScripts.cellOff)
        try await readUntilScriptEnds()
        becameIdle()
    }

    /// Sends a script and waits for the instrument to accept it (`e`) or reject it (`e!XXXX: Line L, Col C`).
    private func sendScript(_ lines: [String]) async throws {
        for line in lines { try await channel.send(line: line) }
        var reply = try await readLine(timeout: options.replyTimeout)
        // An instrument may end a runtime error with an empty line; it is not the reply to this script.
        for _ in 0..<4 where reply.isEmpty { reply = try await readLine(timeout: options.replyTimeout) }
        if reply == "e" { return }
        if reply.hasPrefix("e!") {
            try await recoverFromErrorReply()
            throw InstrumentError(.rejected, instrument: instrumentName, "script rejected: \(reply)")
        }
        activity = .unsynchronised
        throw InstrumentError(.invalidReply, instrument: instrumentName, "unexpected reply to a script: \"\(reply)\"")
    }

    private func readUntilScriptEnds() async throws {
        while true {
            switch try await readStreamLine(timeout: options.abortTimeout) {
            case .scriptEnded, .runtimeError: return
            case .package(let variables): keep(variables)
            case .unrecognised(let text) where text.hasPrefix("P"): discardedPackages += 1
            default: continue
            }
        }
    }

    private func readStreamLine(timeout: Duration) async throws -> MethodScriptStreamLine {
        let text = try await readLine(timeout: timeout)
        do {
            return try MethodScriptStreamLine(text)
        } catch {
            return .unrecognised(text)
        }
    }

    private func readLine(timeout: Duration) async throws -> String {
        try await channel.readLine(timeout: timeout)
    }

    private func recoverFromErrorReply() async throws {
        if options.errorRecoveryDelay > .zero { try await Task.sleep(for: options.errorRecoveryDelay) }
    }

    private func sample(from variables: [MethodScriptVariable], step: Step) throws -> InstrumentSample {
        guard let time = variables.first(where: { $0.type == "eb" })?.value,
            let potential = variables.first(where: { $0.type == "ab" })?.value
        else {
            throw InstrumentError(.invalidReply, instrument: instrumentName, "package without time and potential")
        }
        let current: Double
        switch step {
        case .openCircuit:
            current = 0
            lastOpenCircuitPotential_V = potential
        case .constantCurrent:
            current = (variables.first { $0.type == "ba" }?.value ?? .nan) * options.currentSign.factor
        case .impedance:
            throw InstrumentError(.invalidReply, instrument: instrumentName, "a spectrum package is not a sample")
        }
        var sample = InstrumentSample(time_s: timeOrigin_s + time, current_A: current, voltage_V: potential)
        if bothVoltages {
            // The controlled input (`ab`) is WE-RE; the whole cell is the separate WE-CE reading.
            guard let wholeCell = variables.first(where: { $0.type == "ag" })?.value else {
                throw InstrumentError(
                    .invalidReply, instrument: instrumentName, "three-electrode package without WE-CE (ag)")
            }
            sample.voltage_V = wholeCell
            sample.voltageWERE_V = potential
        }
        lastSampleTime_s = sample.time_s
        return sample
    }

    /// Runs `body`, turning transport failures into `InstrumentError`s; after one the driver resynchronises.
    /// Calls never interleave: each waits for the previous one's conversation to finish (`ConversationLock`).
    private func guarded<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        await conversation.acquire()
        let result: Result
        do {
            result = try await body()
        } catch let error as TransportError {
            activity = .unsynchronised
            await conversation.release()
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

    /// The highest impedance frequency of the model, where known (EmStat4 and Pico 200 kHz, Nexus 1 MHz).
    static func highestImpedanceFrequency_Hz(model: String) -> Double? {
        if model.contains("Nexus") { return 1e6 }
        if model.contains("EmStat4") || model.contains("Pico") { return 2e5 }
        return nil
    }

    static func modelName(deviceID: String) -> String {
        switch deviceID {
        case "es4_hr": "PalmSens EmStat4 HR"
        case "es4_lr": "PalmSens EmStat4 LR"
        case "mes4hr": "PalmSens MultiEmStat4 HR"
        case "mes4lr": "PalmSens MultiEmStat4 LR"
        case "nexus1": "PalmSens Nexus"
        case "espico": "PalmSens EmStat Pico"
        case "senswb": "PalmSens Sensit Wearable"
        default: "MethodSCRIPT device \(deviceID)"
        }
    }
}
