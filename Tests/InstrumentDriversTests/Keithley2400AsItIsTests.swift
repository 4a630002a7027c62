import Domain
import InstrumentDrivers
import Instruments
import Testing
import Transport

// Transcripts of what a real 2400 does that our first simulator did not: a clock that counts from power-on, an
// output that must be switched off at the end of every run, sentinel and over-range values, and replies spoiled on
// the line. Written from the 2400 Series manual (shared/research/serial-protocols.md §2.2).

private let limits = HardwareLimits(voltage_V: 2, current_A: 10e-3)

/// `configure` for a 1 s interval and the limits above: output off, the source set up, the clock reset.
private let configureSteps: [ScriptedTransport.Step] = [
    .expect(":OUTP:SMOD HIMP\r:OUTP OFF\r:OUTP?\r"), .reply("0\r"),
    .expect(
        "*CLS\r:SYST:RSEN ON\r:SOUR:FUNC CURR\r:SOUR:CURR:MODE FIX\r:SOUR:CURR:RANG 0.01\r:SOUR:CURR:LEV 0\r"
            + ":SOUR:CLE:AUTO OFF\r:SENS:FUNC \"VOLT\"\r:SENS:VOLT:PROT 2\r:SENS:VOLT:RANG 2\r:SENS:VOLT:NPLC 1\r"
            + ":FORM:ELEM VOLT,CURR,TIME,STAT\r:TRIG:COUN 1\r:TRIG:DEL 1\r:SYST:TIME:RES\r:SYST:ERR?\r"),
    .reply("0,\"No error\"\r"),
]

private func sourcing(_ level: String) -> [ScriptedTransport.Step] {
    [
        .expect(":OUTP:SMOD HIMP\r:SENS:VOLT:PROT 2\r:SOUR:CURR:LEV \(level)\r:OUTP ON\r:SYST:ERR?\r"),
        .reply("0,\"No error\"\r"),
    ]
}

private let outputOff: [ScriptedTransport.Step] = [.expect(":OUTP:SMOD HIMP\r:OUTP OFF\r:OUTP?\r"), .reply("0\r")]

/// A reading of 0.1 V at 250 uA, taken `time` seconds after the clock's reset, status OK (I-source, V-measure).
private func reading(time: String) -> [ScriptedTransport.Step] {
    [.expect(":READ?\r"), .reply("+1.000000E-01,+2.500000E-04,\(time),+3.481600E+04\r")]
}

@Suite("Keithley 2400 as it is: transcripts")
struct Keithley2400AsItIsTests {
    @Test("an instrument on for hours: configure resets TIME (:SYST:TIME:RES), so the run starts at 0, not at 20000 s")
    func runClockStartsAtTheRun() async throws {
        let transport = ScriptedTransport(
            configureSteps + sourcing("0.00025") + reading(time: "+1.020000E+00") + reading(time: "+2.040000E+00"))
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        #expect(try await smu.nextSample().time_s == 1.02)
        #expect(try await smu.nextSample().time_s == 2.04)
        try await transport.verifyFinished()
    }

    @Test("a second configure (a reconnection) resets the clock again and forgets the wraps it unfolded")
    func reconfiguringResetsTheClockAgain() async throws {
        let transport = ScriptedTransport(
            configureSteps + sourcing("0.00025") + reading(time: "+9.999950E+04") + reading(time: "+5.000000E-01")
                + configureSteps + sourcing("0.00025") + reading(time: "+1.020000E+00"))
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        #expect(try await smu.nextSample().time_s == 99_999.5)
        #expect(try await smu.nextSample().time_s == 100_000.5, "TIME wrapped at 99 999.999 s")
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        #expect(try await smu.nextSample().time_s == 1.02)
        try await transport.verifyFinished()
    }

    @Test("zero-current rests keep the output on at 0 A; finishing the run switches it off, relay open, confirmed")
    func finishingTheRunSwitchesTheOutputOff() async throws {
        let transport = ScriptedTransport(
            configureSteps + sourcing("0.00025") + reading(time: "+1.020000E+00") + sourcing("0")
                + [.expect(":READ?\r"), .reply("+5.000000E-02,+0.000000E+00,+2.040000E+00,+3.481600E+04\r")]
                + outputOff)
        let smu = keithley(transport)  // the rig file's default: open_circuit: zero-current
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        _ = try await smu.nextSample()
        try await smu.openCircuit()
        #expect(try await smu.nextSample().voltage_V == 0.05, "a zero-current rest measures the cell")
        try await smu.finishRun()
        #expect(await code { _ = try await smu.nextSample() } == .notConfigured, "the output is off")
        try await transport.verifyFinished()
    }

    @Test("finishing the run fails loudly when :OUTP? still answers 1")
    func finishingTheRunChecksTheOutputState() async throws {
        let transport = ScriptedTransport(
            configureSteps + [.expect(":OUTP:SMOD HIMP\r:OUTP OFF\r:OUTP?\r"), .reply("1\r")])
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        #expect(await code { try await smu.finishRun() } == .rejected)
        try await transport.verifyFinished()
    }

    @Test("after a reply timeout, finishing the run drops the late reply, clears the error queue, then switches off")
    func finishingTheRunAfterATimeout() async throws {
        let transport = ScriptedTransport(
            configureSteps + sourcing("0.00025") + [.expect(":READ?\r"), .expect("*CLS\r")] + outputOff)
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        #expect(await code { _ = try await smu.nextSample() } == .timeout)
        try await smu.finishRun()
        try await transport.verifyFinished()
    }

    @Test("the not-a-number sentinel 9.91E37 stays NaN, flagged non-finite")
    func notANumberIsKeptAndFlagged() async throws {
        let transport = ScriptedTransport(
            configureSteps + sourcing("0.00025") + [
                .expect(":READ?\r"), .reply("+9.910000E+37,+2.500000E-04,+1.020000E+00,+3.481600E+04\r"),
            ])
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        let sample = try await smu.nextSample()
        #expect(sample.voltage_V.isNaN)
        #expect(sample.flags == [.nonFinite])
        #expect(sample.time_s == 1.02 && sample.current_A == 2.5e-4)
        try await transport.verifyFinished()
    }

    @Test("an over-range reading (9.9E37, status bit 0) is kept, flagged overload and non-finite")
    func overRangeIsKeptAndFlagged() async throws {
        let transport = ScriptedTransport(
            configureSteps + sourcing("0.00025") + [
                .expect(":READ?\r"), .reply("+9.900000E+37,+2.500000E-04,+1.020000E+00,+3.481700E+04\r"),
            ])
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        let sample = try await smu.nextSample()
        #expect(sample.voltage_V == .infinity)
        #expect(sample.flags == [.overload, .nonFinite])
        try await transport.verifyFinished()
    }

    @Test(
        "a garbled or truncated reading is counted, the rest of it drained, and the next reading taken",
        arguments: [
            [0x15, 0x02] + Array("+1.2E\r".utf8), Array("+1.000000E-01,+2.500000E-04\r".utf8),
            Array("+1.000000E-01,+2.500000E-04,,+3.481600E+04\r".utf8),
        ])
    func spoiledReadingIsCountedAndRetaken(spoiled: [UInt8]) async throws {
        let transport = ScriptedTransport(
            configureSteps + sourcing("0.00025") + [.expect(":READ?\r"), .reply(spoiled)]
                + reading(time: "+2.040000E+00"))
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        #expect(try await smu.nextSample().time_s == 2.04)
        #expect(await smu.discardedReadingCount == 1)
        try await transport.verifyFinished()
    }

    @Test("three spoiled readings in a row are an invalid-reply fault, each counted")
    func spoiledReadingsInARowAreAFault() async throws {
        let garbled: ScriptedTransport.Step = .reply([0x15] + Array("+1.2E\r".utf8))
        let transport = ScriptedTransport(
            configureSteps + sourcing("0.00025") + [
                .expect(":READ?\r"), garbled, .expect(":READ?\r"), garbled, .expect(":READ?\r"), garbled,
            ])
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        #expect(await code { _ = try await smu.nextSample() } == .invalidReply)
        #expect(await smu.discardedReadingCount == 3)
        try await transport.verifyFinished()
    }

    @Test(
        "limits beyond what the identified model can source are refused at configure, naming the rig file's key",
        arguments: [
            ("MODEL 2401", HardwareLimits(voltage_V: 50, current_A: 0.01), "limits.voltage", "21 V"),
            ("MODEL 2400", HardwareLimits(voltage_V: 5, current_A: 2), "limits.current", "1050 mA"),
            ("MODEL 2420", HardwareLimits(voltage_V: 100, current_A: 0.01), "limits.voltage", "63 V"),
        ])
    func limitsBeyondTheModelAreRefused(model: String, limits: HardwareLimits, key: String, allowed: String)
        async throws
    {
        let transport = ScriptedTransport([
            .expect("*IDN?\r"), .reply("KEITHLEY INSTRUMENTS INC.,\(model),4001234,C32\r"),
        ])
        let smu = keithley(transport)
        _ = try await smu.identify()
        do {
            try await smu.configure(samplingInterval_s: 1, limits: limits)
            Issue.record("\(model) must refuse \(limits)")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected)
            #expect(error.message.contains(key) && error.message.contains(allowed), "\(error.message)")
        }
        try await transport.verifyFinished()
    }

    @Test("a 2440 sources 3 A where a 2400 could not")
    func aBiggerModelAcceptsMore() async throws {
        var steps: [ScriptedTransport.Step] = [
            .expect("*IDN?\r"), .reply("KEITHLEY INSTRUMENTS INC.,MODEL 2440,4001234,C32\r"),
        ]
        steps += [.expect(":OUTP:SMOD HIMP\r:OUTP OFF\r:OUTP?\r"), .reply("0\r")]
        steps += [
            .expect(
                "*CLS\r:SYST:RSEN ON\r:SOUR:FUNC CURR\r:SOUR:CURR:MODE FIX\r:SOUR:CURR:RANG 3\r:SOUR:CURR:LEV 0\r"
                    + ":SOUR:CLE:AUTO OFF\r:SENS:FUNC \"VOLT\"\r:SENS:VOLT:PROT 2\r:SENS:VOLT:RANG 2\r"
                    + ":SENS:VOLT:NPLC 1\r:FORM:ELEM VOLT,CURR,TIME,STAT\r:TRIG:COUN 1\r:TRIG:DEL 1\r:SYST:TIME:RES\r"
                    + ":SYST:ERR?\r"),
            .reply("0,\"No error\"\r"),
        ]
        let transport = ScriptedTransport(steps)
        let smu = keithley(transport)
        #expect(try await smu.identify().model == "Keithley 2440")
        try await smu.configure(samplingInterval_s: 1, limits: HardwareLimits(voltage_V: 2, current_A: 3))
        try await transport.verifyFinished()
    }

    @Test(
        "the voltage resolution of the range configure selects",
        arguments: [(0.2, 1e-6), (2, 1e-5), (5, 1e-4), (21, 1e-4), (100, nil)] as [(Double, Double?)])
    func voltageResolution(limit_V: Double, resolution_V: Double?) async throws {
        let transport = ScriptedTransport([
            .expect(":OUTP:SMOD HIMP\r:OUTP OFF\r:OUTP?\r"), .reply("0\r"),
            .expect(
                "*CLS\r:SYST:RSEN ON\r:SOUR:FUNC CURR\r:SOUR:CURR:MODE FIX\r:SOUR:CURR:RANG 0.01\r:SOUR:CURR:LEV 0\r"
                    + ":SOUR:CLE:AUTO OFF\r:SENS:FUNC \"VOLT\"\r:SENS:VOLT:PROT \(SCPINumber.format(limit_V))\r"
                    + ":SENS:VOLT:RANG \(SCPINumber.format(limit_V))\r:SENS:VOLT:NPLC 1\r"
                    + ":FORM:ELEM VOLT,CURR,TIME,STAT\r:TRIG:COUN 1\r:TRIG:DEL 1\r:SYST:TIME:RES\r:SYST:ERR?\r"),
            .reply("0,\"No error\"\r"),
        ])
        let smu = keithley(transport)
        #expect(await smu.voltageResolution_V == nil, "unknown before configure")
        try await smu.configure(samplingInterval_s: 1, limits: HardwareLimits(voltage_V: limit_V, current_A: 0.01))
        #expect(await smu.voltageResolution_V == resolution_V)
        try await transport.verifyFinished()
    }
}

private func code(of operation: () async throws -> Void) async -> InstrumentError.Code? {
    do {
        try await operation()
        return nil
    } catch let error as InstrumentError {
        return error.code
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

@Suite("Keithley 2400: compliance ends the run")
struct Keithley2400ComplianceTests {
    @Test("a compliance the run has not heard of refuses the next step, and the output stays off")
    func complianceRefusesTheNextStep() async throws {
        let transport = ScriptedTransport(
            configureSteps + sourcing("0.00025") + [
                .expect(":READ?\r"), .reply("+2.000000E+00,+2.500000E-04,+1.020000E+00,+3.482400E+04\r"),
            ] + outputOff)
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        #expect(try await smu.nextSample().flags == [.overload])
        #expect(await code { try await smu.applyCurrent(500e-6) } == .rejected, "no :OUTP ON after compliance")
        try await transport.verifyFinished()
    }
}
