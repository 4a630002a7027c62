public import Domain
public import Instruments
public import Transport

/// A PalmSens EmStat4 or Nexus driven through MethodSCRIPT: the rig's galvanostat.
///
/// Each output state is one generated script (see `MethodScriptScripts`): a constant-current step with the
/// voltage window enforced by the instrument, or an open-circuit measurement with the cell off. Scripts are
/// bounded by `maximumScriptDuration_s` and renewed while the host keeps reading; every script switches the cell
/// off when it ends or is aborted. Samples are timed by the instrument's script timer, each script continuing from
/// the previous script's last sample (its first package, one interval after `timer_start`, lands one interval after
/// that sample). The first operation synchronises with the instrument (aborting any script a previous host left
/// running) and switches the cell off.
///
/// Every package a script of this driver sends becomes a sample: those that arrive while the driver aborts the
/// script (to change the output, to finish the run, or to resynchronise after a fault) are decoded like any
/// other and queued; `nextSample()` returns the queue first, and `takePendingSamples()` hands it over at the
/// end of a run. A `nan` value stays NaN with ``SampleFlags/nonFinite``; a variable whose status says overload
/// flags its sample ``SampleFlags/overload``. Only lines that cannot be decoded (garbled, truncated, of an
/// unknown kind, or a package without the variables the script sends), and packages a script of another host sent
/// before the first synchronisation, are dropped; `discardedReadingCount` counts them.
///
/// After any reply containing `!` the instrument ignores input for at least 50 ms (manual); the driver sends
/// nothing for `errorHoldOff` after reading such a line. A runtime error (`!0032` critical overload, say) skips
/// the script's `on_finished:`, so the driver then runs its cell-off script and reports the error by code and
/// meaning. `openCircuit()` returns once the abort was acknowledged and the open-circuit script accepted;
/// `finishRun()` once the cell-off script's reply was read.
///
/// The driver measures the WE potential against the RE input (`ab`); wire RE to CE for a two-electrode cell,
/// so `voltage_V` is WE minus CE. For a three-electrode cell (``measureBothVoltages(_:)``) `ab` is WE minus RE
/// and a separate WE-CE reading (`ag`) after every point gives `voltage_V`.
///
/// As a ``Potentiostat`` it runs `meas_loop_ca` (a hold), `meas_loop_lsv` (a linear sweep) or `meas_loop_cv` (a
/// cyclic voltammogram) in potentiostatic mode, the current autoranging from 1 nA up to a range a tenth above the
/// step's current limit (within the rig's), which is also the script's current window. A sweep's script ends with
/// the sweep; the driver then holds its last potential (`meas_loop_ca`), as the program says.
public actor MethodScriptGalvanostat: Galvanostat, ImpedanceAnalyzer, Potentiostat {
    /// EmStat4 and Nexus over USB or UART (EmStat4 firmware 1.1 and older: 230400).
    public static let defaultBaudRate = 921_600
    /// Replies end with LF; stray CR, NUL and XON/XOFF bytes are dropped.
    public static let framing = LineFramer.Configuration(terminator: .lf, maxLineLength: 1000)
    /// The pause after a reply containing `!`: the manual's 50 ms with margin (100 to 150 ms recommended).
    public static let defaultErrorHoldOff = Duration.milliseconds(150)
    /// Lines in a row that cannot be decoded before the stream is given up as broken.
    static let undecodableLinesInARow = 10
    /// The most samples one `nextSamples()` hands over. A real instrument sends a package per interval, so a batch
    /// is what piled up while the host was busy; a simulator at unlimited speed sends the next package as soon as
    /// the host has read the last, and without a bound a busy host would drain one batch for ever, every sample
    /// after a step change in it recorded late (hours of cell time on a loaded machine).
    static let largestBatch = 64

    enum Step: Sendable, Hashable {
        case constantCurrent(instrument_A: Double)
        case openCircuit
        /// An impedance spectrum; its packages are points, not samples.
        case impedance
        /// A potential program: a hold, a linear sweep or a CV.
        case potential(PotentialProgram)

        /// The step a script that ended by itself continues with: a finished sweep holds its last potential.
        var renewal: Step {
            guard case .potential(let program) = self, program.rate_V_s != nil else { return self }
            return .potential(
                .hold(program.corners_V.last!, versus: program.versus, compliance_A: program.currentCompliance_A))
        }
    }

    enum Activity: Sendable, Hashable {
        case unsynchronised
        case idle
        case running(Step)
    }

    let channel: LineChannel
    let conversation = ConversationLock()
    let configuration: MethodScriptConfiguration
    let replyTimeout: Duration
    let errorHoldOff: Duration
    var activity = Activity.unsynchronised
    var identity: InstrumentIdentity?
    var samplingInterval_s: Double?
    var limits: HardwareLimits?
    var timeOrigin_s = 0.0
    var lastSampleTime_s: Double?
    var voltageLimitReported = false
    /// The script reported that the current left its window (`ilimit`).
    var currentLimitReported = false
    /// Three-electrode cell: packages carry WE-RE (`ab`) and WE-CE (`ag`).
    var bothVoltages = false
    /// The potential of the latest open-circuit sample: the DC level of a potentiostatic spectrum.
    var lastOpenCircuitPotential_V: Double?
    var packagesInCurrentScript = 0
    var discardedReadings = 0
    /// When the instrument accepts input again after a reply containing `!`.
    var acceptsInputAt: ContinuousClock.Instant?
    /// The step of the script this driver started last, until the instrument is known to be idle: packages read
    /// while aborting or resynchronising were measured under it.
    var scriptStep: Step?
    /// Samples decoded outside `nextSample()`, oldest first, waiting to be returned.
    var pendingSamples: [InstrumentSample] = []
    /// A failure met while `nextSamples()` collected what was already buffered, reported by the next
    /// `nextSample(s)()` or `applyCurrent(_:)` after the samples it had collected.
    var deferredFailure: (any Error)?

    /// `configuration` is the rig file's `galvanostat:` entry; its `line` was used to open `transport`.
    /// `errorHoldOff` is the silence after a reply containing `!` (tests of other behaviour may shorten it).
    public init(
        transport: any ByteTransport, configuration: MethodScriptConfiguration,
        errorHoldOff: Duration = defaultErrorHoldOff
    ) {
        self.channel = LineChannel(transport: transport, framing: Self.framing, outgoingTerminator: "\n")
        self.configuration = configuration
        self.replyTimeout = .seconds(configuration.replyTimeout_s)
        self.errorHoldOff = errorHoldOff
    }

    nonisolated var instrumentName: String { "MethodSCRIPT on \(channel.portDescription)" }

    /// The identified device, if it is one of the table's.
    var model: MethodScriptModel? { identity.flatMap { MethodScriptModel.named($0.model) } }

    public func identify() async throws -> InstrumentIdentity {
        try await guarded {
            if let identity { return identity }
            try await ensureIdle()
            try await send("t")
            let first = try await readLine(timeout: replyTimeout)
            guard first.hasPrefix("t"), !first.contains("!"), first.count >= 7 else {
                throw InstrumentError(.invalidReply, instrument: instrumentName, "unexpected reply to t: \"\(first)\"")
            }
            var last = first
            var linesRead = 1
            while !last.hasSuffix("*") {
                guard linesRead < 8 else {
                    throw InstrumentError(.invalidReply, instrument: instrumentName, "version text does not end")
                }
                last = try await readLine(timeout: replyTimeout)
                linesRead += 1
            }
            let deviceID = String(first.dropFirst().prefix(6))
            let firmware = String(first.dropFirst(7))
            try await send("i")
            let serialLine = try await readLine(timeout: replyTimeout)
            guard serialLine.hasPrefix("i"), !serialLine.hasPrefix("i!") else {
                throw InstrumentError(
                    .invalidReply, instrument: instrumentName, "unexpected reply to i: \"\(serialLine)\"")
            }
            let found = InstrumentIdentity(
                role: "galvanostat", model: MethodScriptModel.modelName(deviceID: deviceID), firmware: firmware,
                serialNumber: String(serialLine.dropFirst()), port: channel.portDescription)
            identity = found
            return found
        }
    }

    /// Checks the limits against the identified device (potential window, largest current range), then brings
    /// the instrument to idle with the cell off.
    public func configure(samplingInterval_s: Double, limits: HardwareLimits) async throws {
        guard samplingInterval_s >= 0.001, samplingInterval_s.isFinite else {
            throw InstrumentError(
                .rejected, instrument: instrumentName,
                "sampling interval \(formatNumber(samplingInterval_s)) s; allowed: 1 ms or longer")
        }
        guard limits.voltage_V > 0, limits.current_A > 0 else {
            throw InstrumentError(.rejected, instrument: instrumentName, "limits must be positive: \(limits)")
        }
        if let refusal = model?.refusal(of: limits) {
            throw InstrumentError(.rejected, instrument: instrumentName, refusal)
        }
        try await guarded {
            discardedReadings = 0
            deferredFailure = nil
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
        if let model, !model.galvanostatic {
            throw InstrumentError(.rejected, instrument: instrumentName, "\(model.name) has no galvanostatic mode")
        }
        try await guarded {
            // A failure the run has not heard of yet (a runtime error read into a batch) ends it: no new step.
            if let failure = deferredFailure {
                deferredFailure = nil
                throw failure
            }
            try await ensureIdle()
            try await start(.constantCurrent(instrument_A: current_A * configuration.currentSign.factor))
        }
    }

    /// Stops what runs (its packages queued) and starts the program's script; refuses, without touching the
    /// instrument, potentials beyond the rig's limit and shapes MethodSCRIPT cannot run (see
    /// `MethodScriptScripts.refusal(of:bothVoltages:)`).
    public func applyPotential(_ program: PotentialProgram) async throws {
        guard let limits, samplingInterval_s != nil else {
            throw InstrumentError(.notConfigured, instrument: instrumentName, "configure before applying a potential")
        }
        if let outside = program.corners_V.first(where: { abs($0) > limits.voltage_V * (1 + 1e-9) }) {
            throw InstrumentError(
                .rejected, instrument: instrumentName,
                "\(formatNumber(outside)) V exceeds the rig's voltage limit of \(formatNumber(limits.voltage_V)) V")
        }
        try await guarded {
            if let refusal = MethodScriptScripts.refusal(of: program, bothVoltages: bothVoltages) {
                throw InstrumentError(.rejected, instrument: instrumentName, refusal)
            }
            if let failure = deferredFailure {
                deferredFailure = nil
                throw failure
            }
            try await ensureIdle()
            try await start(.potential(program))
        }
    }

    /// Stops what runs (abort acknowledged, its packages queued) and starts the open-circuit measurement; returns
    /// once the instrument accepted that script.
    public func openCircuit() async throws {
        try await guarded {
            try await ensureIdle()
            if samplingInterval_s != nil, limits != nil { try await start(.openCircuit) }
        }
    }

    public func nextSample() async throws -> InstrumentSample {
        try await guarded {
            if !pendingSamples.isEmpty { return pendingSamples.removeFirst() }
            if let failure = deferredFailure {
                deferredFailure = nil
                throw failure
            }
            return try await readSample()
        }
    }

    /// The queued samples, or the next one the instrument sends, followed by every complete package already
    /// received: one call per batch, however fast the instrument streams. A failure met after the first sample is
    /// reported by the next call, so no sample of the batch is lost to it.
    public func nextSamples() async throws -> [InstrumentSample] {
        try await guarded {
            var batch = pendingSamples
            pendingSamples.removeAll()
            if batch.isEmpty {
                if let failure = deferredFailure {
                    deferredFailure = nil
                    throw failure
                }
                batch.append(try await readSample())
            }
            guard deferredFailure == nil else { return batch }
            do {
                while batch.count < Self.largestBatch, let sample = try await readBufferedSample() {
                    batch.append(sample)
                }
            } catch let error as TransportError {
                activity = .unsynchronised
                deferredFailure = InstrumentError(error, instrument: instrumentName)
            } catch {
                deferredFailure = error
            }
            return batch
        }
    }

    /// Refuses a spectrum above the identified device's highest frequency, without touching the instrument.
    public func checkImpedance(_ settings: ImpedanceSettings) async throws {
        if let refusal = model?.refusal(of: settings) {
            throw InstrumentError(.rejected, instrument: instrumentName, refusal)
        }
    }

    /// Measures one impedance spectrum with a script of its own (see `MethodScriptScripts.impedance`), after
    /// stopping whatever ran (its packages are queued as samples). A potentiostatic spectrum is taken around
    /// the latest open-circuit potential this driver read (0 V if none), a galvanostatic one around zero
    /// current. The script ends by itself after its last frequency and switches the cell off; the instrument is
    /// idle afterwards. Point times continue the instrument clock of the samples.
    public func measureImpedance(_ settings: ImpedanceSettings) async throws -> [ImpedancePoint] {
        guard let limits, samplingInterval_s != nil else {
            throw InstrumentError(.notConfigured, instrument: instrumentName, "configure before measuring impedance")
        }
        try await checkImpedance(settings)
        return try await guarded {
            try await ensureIdle()
            let dcLevel = settings.control == .potentiostatic ? (lastOpenCircuitPotential_V ?? 0) : 0
            let script = MethodScriptScripts.impedance(
                settings, dcLevel: dcLevel, currentRange_A: limits.current_A, voltageLimit_V: limits.voltage_V)
            if let last = lastSampleTime_s { timeOrigin_s = last }
            scriptStep = nil  // spectrum packages are not samples
            try await sendScript(script)
            activity = .running(.impedance)
            return try await readSpectrum(settings)
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
    /// instrument idle. Unlike `openCircuit()`, starts no open-circuit measurement that nobody would read. Returns
    /// once the cell-off script's reply was read.
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

    /// Lines the driver read since `configure` and dropped: garbled or truncated lines, lines of an unknown kind,
    /// packages without the variables the script sends, and packages of a script another host left running, read
    /// while synchronising before this driver started any script. With the samples returned, they account for
    /// every package the instrument sent.
    public var discardedReadingCount: Int { discardedReadings }

    /// Closes the port. Does not touch the cell: call `finishRun()` first.
    public func close() async {
        await channel.close()
    }

    /// Runs `body` holding the conversation lock; after a transport failure the driver resynchronises first.
    func guarded<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        try await exclusively(
            conversation, instrument: instrumentName, afterTransportFailure: { activity = .unsynchronised }, body)
    }
}

extension MethodScriptConfiguration.CurrentSign {
    /// The factor from IUPAC current to the instrument's current and back.
    var factor: Double { self == .sameAsIUPAC ? 1 : -1 }
}
