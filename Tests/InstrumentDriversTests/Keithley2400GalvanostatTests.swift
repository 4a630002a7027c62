import Domain
import InstrumentDrivers
import Instruments
import Testing
import Transport

private let configureCommands =
    "*CLS\r:SYST:RSEN ON\r:SOUR:FUNC CURR\r:SOUR:CURR:MODE FIX\r"
    + ":SOUR:CURR:RANG 0.01\r:SOUR:CURR:LEV 0\r:SOUR:CLE:AUTO OFF\r:SENS:FUNC \"VOLT\"\r:SENS:VOLT:PROT 2\r"
    + ":SENS:VOLT:RANG 2\r:SENS:VOLT:NPLC 1\r:FORM:ELEM VOLT,CURR,TIME,STAT\r:TRIG:COUN 1\r:TRIG:DEL 1\r"
    + ":SYST:TIME:RES\r:SYST:ERR?\r"

private let configured: [ScriptedTransport.Step] = [
    .expect(":OUTP:SMOD HIMP\r:OUTP OFF\r:OUTP?\r"), .reply("0\r"), .expect(configureCommands),
    .reply("0,\"No error\"\r"),
]
private let source250uA: [ScriptedTransport.Step] = [
    .expect(":OUTP:SMOD HIMP\r:SENS:VOLT:PROT 2\r:SOUR:CURR:LEV 0.00025\r:OUTP ON\r:SYST:ERR?\r"),
    .reply("0,\"No error\"\r"),
]
private let limits = HardwareLimits(voltage_V: 2, current_A: 10e-3)

/// A Keithley driver on `transport` with the rig file's defaults, adjusted by `adjust`.
func keithley(
    _ transport: ScriptedTransport, adjust: (inout Keithley2400Configuration) -> Void = { _ in }
) -> Keithley2400Galvanostat {
    var configuration = Keithley2400Configuration(line: SerialLineConfiguration(port: "scripted", baudRate: 9600))
    adjust(&configuration)
    return Keithley2400Galvanostat(transport: transport, configuration: configuration)
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

@Suite struct Keithley2400GalvanostatTests {
    @Test func identifySplitsTheIDNReply() async throws {
        let transport = ScriptedTransport([
            .expect("*IDN?\r"),
            .reply("KEITHLEY INSTRUMENTS INC.,MODEL 2400,4001234,C32   Oct  4 2010 14:20:11/A02  /S/K\r\n"),
        ])
        let identity = try await keithley(transport).identify()
        #expect(identity.model == "Keithley 2400")
        #expect(identity.serialNumber == "4001234")
        #expect(identity.firmware == "C32   Oct  4 2010 14:20:11/A02  /S/K")
        try await transport.verifyFinished()
    }

    @Test func sourcesCurrentAndReadsSamples() async throws {
        let transport = ScriptedTransport(
            configured + source250uA + [
                .expect(":READ?\r"), .reply("+1.000000E-01,+2.500000E-04,+1.234500E+02,+3.481600E+04\r"),
                .expect(":OUTP:SMOD HIMP\r:OUTP OFF\r:OUTP?\r"), .reply("0\r"),
            ])
        let smu = keithley(transport) { $0.openCircuit = .outputOff }
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        #expect(try await smu.nextSample() == InstrumentSample(time_s: 123.45, current_A: 2.5e-4, voltage_V: 0.1))
        try await smu.openCircuit()
        #expect(await code { _ = try await smu.nextSample() } == .notConfigured)
        try await transport.verifyFinished()
    }

    @Test func complianceEndsTheStepWithTheOutputOff() async throws {
        let transport = ScriptedTransport(
            configured + source250uA + [
                .expect(":READ?\r"), .reply("+2.000000E+00,+2.500000E-04,+1.000000E+00,+3.482400E+04\r"),
                .expect(":OUTP:SMOD HIMP\r:OUTP OFF\r:OUTP?\r"), .reply("0\r"),
            ])
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        let atCompliance = try await smu.nextSample()
        #expect(atCompliance.voltage_V == 2 && atCompliance.flags == [.overload], "the reading is kept, flagged")
        #expect(await code { _ = try await smu.nextSample() } == .rejected)
        try await transport.verifyFinished()
    }

    @Test func queuedErrorsAreReported() async throws {
        let transport = ScriptedTransport(
            configured + [
                .expect(":OUTP:SMOD HIMP\r:SENS:VOLT:PROT 2\r:SOUR:CURR:LEV 0.00025\r:OUTP ON\r:SYST:ERR?\r"),
                .reply("-222,\"Parameter data out of range\"\r"), .expect(":SYST:ERR?\r"), .reply("0,\"No error\"\r"),
            ])
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        do {
            try await smu.applyCurrent(250e-6)
            Issue.record("expected the queued error")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected)
            #expect(error.message.contains("-222"))
        }
        try await transport.verifyFinished()
    }

    @Test func instrumentTimeWrapIsUnfolded() async throws {
        let transport = ScriptedTransport(
            configured + source250uA + [
                .expect(":READ?\r"), .reply("+1.0E-01,+2.5E-04,+9.999950E+04,+3.4816E+04\r"),
                .expect(":READ?\r"), .reply("+1.0E-01,+2.5E-04,+5.000000E-01,+3.4816E+04\r"),
            ])
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        #expect(try await smu.nextSample().time_s == 99_999.5)
        #expect(try await smu.nextSample().time_s == 100_000.5)
        try await transport.verifyFinished()
    }

    @Test func reversedWiringIsMappedToIUPAC() async throws {
        let transport = ScriptedTransport(
            configured + [
                .expect(":OUTP:SMOD HIMP\r:SENS:VOLT:PROT 2\r:SOUR:CURR:LEV -0.00025\r:OUTP ON\r:SYST:ERR?\r"),
                .reply("0,\"No error\"\r"),
                .expect(":READ?\r"), .reply("-1.000000E-01,-2.500000E-04,+1.000000E+00,+3.481600E+04\n"),
            ])
        let smu = keithley(transport) { $0.wiring = .highToCounterElectrode }
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        #expect(try await smu.nextSample() == InstrumentSample(time_s: 1, current_A: 2.5e-4, voltage_V: 0.1))
        try await transport.verifyFinished()
    }

    @Test func limitsBeyondTheInstrumentAreRefusedWithoutTouchingIt() async throws {
        let transport = ScriptedTransport([])
        let smu = keithley(transport)
        #expect(
            await code {
                try await smu.configure(samplingInterval_s: 1, limits: HardwareLimits(voltage_V: 300, current_A: 1e-3))
            }
                == .rejected)
        try await transport.verifyFinished()
    }

    @Test func interlockIsEnabledAndCheckedBeforeEveryOutputOn() async throws {
        let transport = ScriptedTransport(
            configured + [
                .expect(":OUTP:INT:STAT ON\r:SYST:ERR?\r"), .reply("0,\"No error\"\r"),
                .expect(":OUTP:INT:STAT?\r"), .reply("1\r"),
                .expect(":OUTP:INT:TRIP?\r"), .reply("1\r"),
            ] + source250uA + [
                .expect(":READ?\r"), .reply("+1.000000E-01,+2.500000E-04,+1.000000E+00,+3.481600E+04\r"),
                .expect(":OUTP:INT:TRIP?\r"), .reply("0\r"),
            ])
        let smu = keithley(transport) { $0.outputInterlock = .watchdog(holdTime_s: 5) }
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        #expect(try await smu.nextSample().voltage_V == 0.1)
        do {
            try await smu.applyCurrent(500e-6)
            Issue.record("expected the open interlock to refuse the output")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected)
            #expect(error.message.contains("interlock is open"))
        }
        try await transport.verifyFinished()
    }

    @Test func interlockFallsBackToTheOutputEnableName() async throws {
        let transport = ScriptedTransport(
            configured + [
                .expect(":OUTP:INT:STAT ON\r:SYST:ERR?\r"), .reply("-113,\"Undefined header\"\r"),
                .expect(":SYST:ERR?\r"), .reply("0,\"No error\"\r"),
                .expect(":OUTP:ENAB:STAT ON\r:SYST:ERR?\r"), .reply("0,\"No error\"\r"),
                .expect(":OUTP:ENAB:STAT?\r"), .reply("1\r"),
                .expect(":OUTP:ENAB:TRIP?\r"), .reply("1\r"),
            ] + source250uA)
        let smu = keithley(transport) { $0.outputInterlock = .line }
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyCurrent(250e-6)
        try await transport.verifyFinished()
    }

    @Test func interlockThatCannotBeEnabledFailsTheConfiguration() async throws {
        let transport = ScriptedTransport(
            configured + [
                .expect(":OUTP:INT:STAT ON\r:SYST:ERR?\r"), .reply("-113,\"Undefined header\"\r"),
                .expect(":SYST:ERR?\r"), .reply("0,\"No error\"\r"),
                .expect(":OUTP:ENAB:STAT ON\r:SYST:ERR?\r"), .reply("-113,\"Undefined header\"\r"),
                .expect(":SYST:ERR?\r"), .reply("0,\"No error\"\r"),
            ])
        let smu = keithley(transport) { $0.outputInterlock = .line }
        do {
            try await smu.configure(samplingInterval_s: 1, limits: limits)
            Issue.record("expected the configuration to fail")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected)
            #expect(error.message.contains(":OUTP:INT:STAT ON") && error.message.contains(":OUTP:ENAB:STAT ON"))
        }
        try await transport.verifyFinished()
    }

    @Test func samplingSlowerThanTheWatchdogAllowsIsRefusedWithoutTouchingTheInstrument() async throws {
        let transport = ScriptedTransport([])
        let smu = keithley(transport) { $0.outputInterlock = .watchdog(holdTime_s: 10) }
        #expect(await code { try await smu.configure(samplingInterval_s: 6, limits: limits) } == .rejected)
        try await transport.verifyFinished()
    }

    @Test(arguments: [
        ("+9.910000E+37", Double.nan), ("-2.5E-04", -2.5e-4), ("1", 1.0), ("+3.712345E+00", 3.712345),
    ])
    func parsesSCPINumbers(text: String, value: Double) {
        let parsed = SCPINumber.parse(text)
        if value.isNaN {
            #expect(parsed?.isNaN == true)
        } else {
            #expect(parsed == value)
        }
    }

    @Test func formatsCommandNumbersWithoutLocaleOrNoise() {
        #expect(SCPINumber.format(2) == "2")
        #expect(SCPINumber.format(0.00025) == "0.00025")
        #expect(SCPINumber.format(-1e-9) == "-1E-09")
    }
}
