import Domain
import Instruments
import Transport

// The conversation of `Keithley2400Galvanostat` with its instrument: readings and their decoding, the sweep's
// staircase, sourcing voltage or current, the output off, the interlock, the error queue and the conversation lock.
extension Keithley2400Galvanostat {
    /// `:READ?` and its reply; a timeout with the interlock in use says what it most likely means.
    func read(timeout: Duration) async throws -> String {
        do {
            return try await query(":READ?", timeout: timeout)
        } catch let error as TransportError where error.kind == .timeout && interlockHeader != nil {
            output = .unknown
            clearErrorsFirst = true
            throw InstrumentError(
                .timeout, instrument: instrumentName,
                "no reply to :READ?; with the output interlock in use this is what a released interlock "
                    + "looks like (the output went off and the reading was abandoned): \(error.description)")
        }
    }

    /// The sample a `VOLT,CURR,TIME,STAT` reply holds, flagged as the instrument said; nil when the reply has not
    /// four numbers or no finite time and status. Switches the output off when the reading is in compliance; the
    /// rejection (or the failure to switch off) is reported by the next call, after this reading.
    func sample(from reply: String) async throws -> InstrumentSample? {
        let values = reply.split(separator: ",", omittingEmptySubsequences: false).map { SCPINumber.parse($0) }
        guard values.count == 4, let voltage = values[0], let current = values[1], let time = values[2],
            let statusValue = values[3], time.isFinite, statusValue.isFinite
        else { return nil }
        let status = Int(statusValue)
        var sample = InstrumentSample(
            time_s: continuousTime(time), current_A: current * sign, voltage_V: voltage * sign
        ).flaggingNonFiniteValues()
        if status & (Self.overRangeBit | Self.complianceBit) != 0 || voltage.isInfinite || current.isInfinite {
            sample.flags.insert(.overload)
        }
        guard status & Self.complianceBit != 0 else { return sample }
        let what =
            if case .voltage(let compliance_A) = sourceFunction {
                "current compliance (\(formatNumber(compliance_A)) A) reached at \(formatNumber(current)) A"
            } else {
                "voltage compliance (\(formatNumber(limits?.voltage_V ?? 0)) V) reached at \(formatNumber(voltage)) V"
            }
        do {
            try await switchOutputOff()
            complianceRejection = InstrumentError(
                .rejected, instrument: instrumentName, "\(what); output switched off")
        } catch let error as TransportError {
            // The reading stays the run's; the failure to switch off is reported by the next call.
            output = .unknown
            clearErrorsFirst = true
            complianceRejection = InstrumentError(error, instrument: instrumentName)
        }
        return sample
    }

    /// Before a reading under a sweep: sets the level to the programmed potential at that reading's time (a hold
    /// sends nothing).
    func stepSweepLevel(interval_s: Double) async throws {
        guard let (running, start_s, readings) = program else { return }
        program = (running, start_s, readings + 1)
        guard running.rate_V_s != nil, readings > 0 else { return }
        let next_s = (latestReadingTime_s ?? start_s) + (readingPeriod_s ?? interval_s)
        let level = running.potential(atElapsed: next_s - start_s) * sign
        guard case .voltage(let present) = output, level != present else { return }
        try await command(":SOUR:VOLT:LEV \(SCPINumber.format(level))")
        output = .voltage(level)
    }

    /// Sources `instrument_V` with a current compliance, switching the source to voltage first (through the output
    /// off) when it drove current.
    func sourceVoltage(_ instrument_V: Double, compliance_A: Double, limits: HardwareLimits) async throws {
        try await clearErrorsIfNeeded()
        try await checkInterlock()
        if sourceFunction != .voltage(compliance_A: compliance_A) {
            if output != .off { try await switchOutputOff() }
            try await command(
                ":SOUR:FUNC VOLT",
                ":SOUR:VOLT:MODE FIX",
                ":SOUR:VOLT:RANG \(SCPINumber.format(limits.voltage_V))",
                ":SENS:FUNC \"CURR\"",
                ":SENS:CURR:PROT \(SCPINumber.format(compliance_A))",
                ":SENS:CURR:RANG \(SCPINumber.format(compliance_A))")
            sourceFunction = .voltage(compliance_A: compliance_A)
        }
        try await command(":OUTP:SMOD HIMP", ":SOUR:VOLT:LEV \(SCPINumber.format(instrument_V))", ":OUTP ON")
        try await checkErrorQueue()
        output = .voltage(instrument_V)
    }

    /// Refuses to switch the output on while the interlock line is released.
    func checkInterlock() async throws {
        guard let interlockHeader else { return }
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

    func source(_ instrument_A: Double, limits: HardwareLimits) async throws {
        try await clearErrorsIfNeeded()
        program = nil
        if sourceFunction != .current {
            if output != .off { try await switchOutputOff() }
            try await command(
                ":SOUR:FUNC CURR",
                ":SOUR:CURR:MODE FIX",
                ":SOUR:CURR:RANG \(SCPINumber.format(limits.current_A))",
                ":SENS:FUNC \"VOLT\"",
                ":SENS:VOLT:RANG \(SCPINumber.format(limits.voltage_V))")
            sourceFunction = .current
        }
        try await checkInterlock()
        try await command(
            ":OUTP:SMOD HIMP",
            ":SENS:VOLT:PROT \(SCPINumber.format(limits.voltage_V))",
            ":SOUR:CURR:LEV \(SCPINumber.format(instrument_A))",
            ":OUTP ON")
        try await checkErrorQueue()
        output = .current(instrument_A)
    }

    /// Output off in the high-impedance state, confirmed by reading the output state back.
    func switchOutputOff() async throws {
        try await clearErrorsIfNeeded()
        try await command(":OUTP:SMOD HIMP", ":OUTP OFF")
        let state = try await query(":OUTP?")
        guard SCPINumber.parse(state) == 0 else {
            throw InstrumentError(.rejected, instrument: instrumentName, "output still on after :OUTP OFF (\(state))")
        }
        output = .off
        program = nil
    }

    /// After a failed exchange: drops a late reply still on its way, then clears the error queue.
    func clearErrorsIfNeeded() async throws {
        guard clearErrorsFirst else { return }
        try await channel.drain(quietPeriod: .milliseconds(100))
        try await command("*CLS")
        clearErrorsFirst = false
    }

    /// Enables the interlock under whichever name the firmware knows, confirmed by reading the state back.
    func enableInterlock() async throws {
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

    func command(_ lines: String...) async throws {
        for line in lines { try await channel.send(line: line) }
    }

    func query(_ line: String, timeout: Duration? = nil) async throws -> String {
        try await channel.send(line: line)
        return try await channel.readLine(timeout: timeout ?? replyTimeout)
    }

    /// Reads `:SYST:ERR?` until it reports no error; throws `rejected` naming every queued error.
    func checkErrorQueue() async throws {
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

    /// The instrument's TIME with its wraps at 99 999.999 s unfolded.
    func continuousTime(_ instrumentTime_s: Double) -> Double {
        if let last = lastInstrumentTime_s, instrumentTime_s + 1 < last { wrapOffset_s += Self.timeWrap_s }
        lastInstrumentTime_s = instrumentTime_s
        let continuous = instrumentTime_s + wrapOffset_s
        if let previous = latestReadingTime_s, continuous > previous { readingPeriod_s = continuous - previous }
        latestReadingTime_s = continuous
        return continuous
    }

    /// Runs `body` holding the conversation lock; after a transport failure the output state is unknown and the
    /// next output change clears the error queue first.
    func conversing<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        try await exclusively(
            conversation, instrument: instrumentName,
            afterTransportFailure: {
                output = .unknown
                clearErrorsFirst = true
            }, body)
    }
}
