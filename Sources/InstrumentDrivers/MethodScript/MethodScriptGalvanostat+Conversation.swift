import Domain
import Instruments
import Transport

// The conversation of `MethodScriptGalvanostat` with its instrument: reading the stream, starting, aborting and
// synchronising scripts, the pause after error replies, and turning packages into samples.
extension MethodScriptGalvanostat {
    /// The longest wait for a running script to end after an abort: the abort takes effect at the next loop
    /// iteration, so two intervals plus 10 s, and at least 30 s.
    var abortTimeout: Duration { .seconds(max(30, 2 * (samplingInterval_s ?? 0) + 10)) }

    // MARK: - Samples from the stream

    /// Waits for the next package of the running script and returns its sample.
    func readSample() async throws -> InstrumentSample {
        guard let sample = try await streamSample(waiting: true) else {
            throw InstrumentError(.timeout, instrument: instrumentName, "no package")
        }
        return sample
    }

    /// The next sample whose package is already received, or nil when no complete line is waiting.
    func readBufferedSample() async throws -> InstrumentSample? {
        try await streamSample(waiting: false)
    }

    /// Reads stream lines until a package of the running script becomes a sample, renewing a script that ended
    /// by its time bound. Without `waiting`, returns nil as soon as no complete line is buffered.
    private func streamSample(waiting: Bool) async throws -> InstrumentSample? {
        var undecodable = 0
        func countUndecodable(_ line: String) throws {
            discardedReadings += 1
            undecodable += 1
            guard undecodable <= Self.undecodableLinesInARow else {
                throw InstrumentError(
                    .invalidReply, instrument: instrumentName,
                    "\(undecodable) lines in a row could not be decoded, the last \"\(line)\"")
            }
        }
        while true {
            guard case .running(let step) = activity, step != .impedance, let interval = samplingInterval_s else {
                if !waiting { return nil }
                throw InstrumentError(
                    .notConfigured, instrument: instrumentName, "no step running; apply a current or open the circuit")
            }
            let text: String
            do {
                text = try await readLine(timeout: waiting ? .seconds(2 * interval) + replyTimeout : .zero)
            } catch let error as TransportError where error.kind == .timeout && !waiting {
                return nil
            } catch let error as TransportError where error.kind == .garbled || error.kind == .overlongLine {
                try countUndecodable(error.detail)
                continue
            }
            switch MethodScriptStreamLine(classifying: text) {
            case .package(let variables):
                packagesInCurrentScript += 1
                if let sample = sample(from: variables, step: step) { return sample }
                try countUndecodable(text)
            case .unrecognised:
                try countUndecodable(text)
            case .text(let text) where text == MethodScriptScripts.voltageLimitMarker:
                voltageLimitReported = true
            case .text(let text) where text == MethodScriptScripts.currentLimitMarker:
                currentLimitReported = true
            case .runtimeError(let code, _):
                becameIdle()
                try await runCellOffScript()
                throw InstrumentError(
                    .rejected, instrument: instrumentName,
                    "the instrument stopped the script: \(MethodScriptErrorCode.describe(code)); the driver's "
                        + "cell-off script switched the cell off")
            case .scriptEnded:
                becameIdle()
                if voltageLimitReported {
                    throw InstrumentError(
                        .rejected, instrument: instrumentName,
                        "the potential left the +/-\(formatNumber(limits?.voltage_V ?? 0)) V window; the instrument "
                            + "switched the cell off")
                }
                if currentLimitReported {
                    throw InstrumentError(
                        .rejected, instrument: instrumentName,
                        "the current left its window (the step's current limit with a tenth to spare); the instrument "
                            + "switched the cell off")
                }
                guard packagesInCurrentScript > 0 else {
                    throw InstrumentError(
                        .invalidReply, instrument: instrumentName,
                        "the script ended without sending data; not renewing it")
                }
                try await start(step.renewal)
            default:
                continue
            }
        }
    }

    /// The points of the spectrum script just started, until it ends.
    func readSpectrum(_ settings: ImpedanceSettings) async throws -> [ImpedancePoint] {
        var points: [ImpedancePoint] = []
        let lowest = min(settings.startFrequency_Hz, settings.endFrequency_Hz)
        let pointTimeout = replyTimeout + .seconds(4 * ImpedanceSettings.pointDuration_s(atFrequency: lowest))
        while true {
            switch try await readStreamLine(timeout: max(pointTimeout, abortTimeout)) {
            case .package(let variables):
                guard let time = variables.first(where: { $0.type == "eb" })?.value, time.isFinite,
                    let frequency = variables.first(where: { $0.type == "dc" })?.value,
                    let real = variables.first(where: { $0.type == "cc" })?.value,
                    let imaginary = variables.first(where: { $0.type == "cd" })?.value
                else {
                    discardedReadings += 1
                    continue
                }
                let point = ImpedancePoint(
                    time_s: timeOrigin_s + time, frequency_Hz: frequency, real_Ohm: real, imaginary_Ohm: imaginary)
                lastSampleTime_s = point.time_s
                points.append(point)
            case .unrecognised:
                discardedReadings += 1
            case .runtimeError(let code, _):
                becameIdle()
                try await runCellOffScript()
                throw InstrumentError(
                    .rejected, instrument: instrumentName,
                    "the instrument stopped the impedance script after \(points.count) points: "
                        + "\(MethodScriptErrorCode.describe(code)); the driver's cell-off script switched the cell off")
            case .scriptEnded:
                becameIdle()
                return points
            default:
                continue
            }
        }
    }

    /// The sample a package of `step` holds, on the driver's clock and in IUPAC signs, flagged as the instrument
    /// said; nil when the package lacks a variable the script sends (time, potential, current, WE-CE) or its time
    /// is not a number.
    func sample(from variables: [MethodScriptVariable], step: Step) -> InstrumentSample? {
        func value(_ type: String) -> Double? { variables.first { $0.type == type }?.value }
        // Potentiostatic loops report the applied potential (`da`); the others the measured one (`ab`).
        guard let time = value("eb"), time.isFinite, let potential = value("ab") ?? value("da") else { return nil }
        let current: Double
        switch step {
        case .openCircuit:
            current = 0
            if potential.isFinite { lastOpenCircuitPotential_V = potential }
        case .constantCurrent, .potential:
            guard let measured = value("ba") else { return nil }
            current = measured * configuration.currentSign.factor
        case .impedance:
            return nil
        }
        var sample = InstrumentSample(time_s: timeOrigin_s + time, current_A: current, voltage_V: potential)
        if bothVoltages {
            // The controlled input (`ab`) is WE-RE; the whole cell is the separate WE-CE reading.
            guard let wholeCell = value("ag") else { return nil }
            sample.voltage_V = wholeCell
            sample.voltageWERE_V = potential
        }
        sample = sample.flaggingNonFiniteValues()
        if variables.contains(where: \.isOverloaded) { sample.flags.insert(.overload) }
        lastSampleTime_s = sample.time_s
        return sample
    }

    /// Queues the sample a package read outside `nextSample()` holds, decoded as `nextSample()` would decode it
    /// (same step, same time origin); counts it as discarded when it cannot be decoded or no script of this
    /// driver sent it.
    func keep(_ variables: [MethodScriptVariable]) {
        guard let step = scriptStep, let sample = sample(from: variables, step: step) else {
            discardedReadings += 1
            return
        }
        pendingSamples.append(sample)
    }

    // MARK: - Scripts

    func ensureIdle() async throws {
        switch activity {
        case .idle: return
        case .unsynchronised: try await synchronize()
        case .running: try await abortRunningScript()
        }
    }

    /// Brings an instrument in any state to idle with the cell off.
    func synchronize() async throws {
        await channel.discardBuffered()
        try await send("")
        try await send("Z")
        scan: while true {
            switch try await readStreamLine(timeout: abortTimeout) {
            case .commandError(command: "Z", _, _):
                break scan
            case .acknowledgement("Z"):
                try await readUntilScriptEnds()
                break scan
            case .package(let variables):
                keep(variables)
            case .unrecognised:
                discardedReadings += 1
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
    func abortRunningScript() async throws -> Bool {
        try await send("Z")
        var acknowledged = false
        var needsCellOff = false
        scan: while true {
            switch try await readStreamLine(timeout: abortTimeout) {
            case .acknowledgement("Z"): acknowledged = true
            case .package(let variables): keep(variables)
            case .unrecognised: discardedReadings += 1
            case .scriptEnded: break scan
            case .runtimeError:
                needsCellOff = true
                break scan
            default: continue
            }
        }
        if !acknowledged && !needsCellOff {
            // The script ended before the Z arrived; the idle instrument answers it with Z!0006.
            while true {
                if case .commandError(command: "Z", _, _) = try await readStreamLine(timeout: replyTimeout) { break }
            }
        }
        becameIdle()
        if needsCellOff { try await runCellOffScript() }
        return needsCellOff
    }

    /// Notes that no script of this driver runs any more.
    func becameIdle() {
        activity = .idle
        scriptStep = nil
    }

    /// Starts the script of `step`; its first package lands one interval after the latest sample.
    func start(_ step: Step) async throws {
        guard let interval = samplingInterval_s, let limits else {
            throw InstrumentError(.notConfigured, instrument: instrumentName, "not configured")
        }
        let script: [String]
        switch step {
        case .constantCurrent(let instrument_A):
            script = MethodScriptScripts.constantCurrent(
                current_A: instrument_A, interval_s: interval, duration_s: configuration.maximumScriptDuration_s,
                voltageLimit_V: limits.voltage_V, mainsFrequency_Hz: configuration.mainsFrequency_Hz,
                bothVoltages: bothVoltages)
        case .openCircuit:
            script = MethodScriptScripts.openCircuit(
                interval_s: interval, duration_s: configuration.maximumScriptDuration_s,
                voltageLimit_V: limits.voltage_V, mainsFrequency_Hz: configuration.mainsFrequency_Hz,
                bothVoltages: bothVoltages)
        case .impedance:
            throw InstrumentError(.rejected, instrument: instrumentName, "a spectrum is not renewed")
        case .potential(let program):
            let range = min(limits.current_A, currentWindow(for: program.currentCompliance_A ?? limits.current_A))
            script = MethodScriptScripts.potentiostatic(
                program, interval_s: interval, duration_s: configuration.maximumScriptDuration_s,
                currentRange_A: range, voltageLimit_V: limits.voltage_V,
                mainsFrequency_Hz: configuration.mainsFrequency_Hz, bothVoltages: bothVoltages)
        }
        // The script's timer starts with it and its first package comes one interval later: the time origin is
        // the latest sample, so the first new sample follows it by one interval (ADR 0006).
        if let last = lastSampleTime_s { timeOrigin_s = last }
        voltageLimitReported = false
        currentLimitReported = false
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

    /// Runs the one-line cell-off script and reads its output to the end.
    func runCellOffScript() async throws {
        try await sendScript(MethodScriptScripts.cellOff)
        try await readUntilScriptEnds()
        becameIdle()
    }

    /// Sends a script and waits for the instrument to accept it (`e`) or reject it (`e!XXXX: Line L, Col C`).
    func sendScript(_ lines: [String]) async throws {
        for line in lines { try await send(line) }
        var reply = try await readLine(timeout: replyTimeout)
        // Not the reply to this script: the empty line an instrument may send after a runtime error, and the
        // `Z!0006` of an abort that reached the instrument after the script had stopped by itself.
        for _ in 0..<4 where reply.isEmpty || reply.hasPrefix("Z!") {
            reply = try await readLine(timeout: replyTimeout)
        }
        if reply == "e" { return }
        if reply.hasPrefix("e!") {
            throw InstrumentError(.rejected, instrument: instrumentName, "script rejected: \(reply)")
        }
        activity = .unsynchronised
        throw InstrumentError(.invalidReply, instrument: instrumentName, "unexpected reply to a script: \"\(reply)\"")
    }

    func readUntilScriptEnds() async throws {
        while true {
            switch try await readStreamLine(timeout: abortTimeout) {
            case .scriptEnded, .runtimeError: return
            case .package(let variables): keep(variables)
            case .unrecognised: discardedReadings += 1
            default: continue
            }
        }
    }

    // MARK: - Lines

    func readStreamLine(timeout: Duration) async throws -> MethodScriptStreamLine {
        MethodScriptStreamLine(classifying: try await readLine(timeout: timeout))
    }

    /// The next line; one containing `!` starts the hold-off during which the instrument ignores input.
    func readLine(timeout: Duration) async throws -> String {
        let line = try await channel.readLine(timeout: timeout)
        if line.contains("!") { acceptsInputAt = ContinuousClock.now.advanced(by: errorHoldOff) }
        return line
    }

    /// Sends one line, first waiting out the hold-off after an error reply. The wait is not cancellable: a cell-off
    /// script sent early would be ignored.
    func send(_ line: String) async throws {
        if let instant = acceptsInputAt {
            acceptsInputAt = nil
            let remaining = ContinuousClock.now.duration(to: instant)
            if remaining > .zero { await Task.detached { try? await Task.sleep(for: remaining) }.value }
        }
        try await channel.send(line: line)
    }
}
