import Domain
import InstrumentDrivers
import Instruments
import Testing
import Transport

private let configured: [ScriptedTransport.Step] = [
    .expect(":OUTP:SMOD HIMP\r:OUTP OFF\r:OUTP?\r"), .reply("0\r"),
    .expect(
        "*CLS\r:SYST:RSEN ON\r:SOUR:FUNC CURR\r:SOUR:CURR:MODE FIX\r"
            + ":SOUR:CURR:RANG 0.01\r:SOUR:CURR:LEV 0\r:SOUR:CLE:AUTO OFF\r:SENS:FUNC \"VOLT\"\r:SENS:VOLT:PROT 2\r"
            + ":SENS:VOLT:RANG 2\r:SENS:VOLT:NPLC 1\r:FORM:ELEM VOLT,CURR,TIME,STAT\r:TRIG:COUN 1\r:TRIG:DEL 1\r"
            + ":SYST:TIME:RES\r:SYST:ERR?\r"),
    .reply("0,\"No error\"\r"),
]
/// The switch to a voltage source with a 1.1 mA compliance (a tenth above a 1 mA current limit).
private let voltageSource: [ScriptedTransport.Step] = [
    .expect(
        ":SOUR:FUNC VOLT\r:SOUR:VOLT:MODE FIX\r:SOUR:VOLT:RANG 2\r:SENS:FUNC \"CURR\"\r:SENS:CURR:PROT 0.0011\r"
            + ":SENS:CURR:RANG 0.0011\r")
]
private let outputOff: [ScriptedTransport.Step] = [
    .expect(":OUTP:SMOD HIMP\r:OUTP OFF\r:OUTP?\r"), .reply("0\r"),
]
private let limits = HardwareLimits(voltage_V: 2, current_A: 10e-3)

@Suite struct Keithley2400PotentiostatTests {
    @Test func holdsAPotentialWithCurrentComplianceAndEndsWithTheOutputOff() async throws {
        let transport = ScriptedTransport(
            configured + voltageSource + [
                .expect(":OUTP:SMOD HIMP\r:SOUR:VOLT:LEV 0.1\r:OUTP ON\r:SYST:ERR?\r"), .reply("0,\"No error\"\r"),
                .expect(":READ?\r"), .reply("+1.000000E-01,+1.380000E-04,+1.000000E+00,+2.124800E+04\r"),
                .expect(":READ?\r"), .reply("+1.000000E-01,+1.370000E-04,+2.000000E+00,+2.124800E+04\r"),
            ] + outputOff)
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyPotential(.hold(0.1, versus: .counter, compliance_A: 1e-3))
        #expect(try await smu.nextSample() == InstrumentSample(time_s: 1, current_A: 1.38e-4, voltage_V: 0.1))
        #expect(try await smu.nextSample().current_A == 1.37e-4)
        try await smu.finishRun()
        try await transport.verifyFinished()
    }

    @Test("a sweep's level follows the instrument's clock: readings 1.5 s apart at a 1 s interval")
    func sweepFollowsTheInstrumentsClock() async throws {
        // 0 -> 1 V at 0.125 V/s. A reading takes its 1 s trigger delay plus the integration and the exchange: here
        // 1.5 s. The second level is for the first reading's time plus the interval (no period known yet), the
        // third for the second reading's time plus the measured period: 2.5 s and 4.5 s, not 2 s and 3 s.
        let transport = ScriptedTransport(
            configured + voltageSource + [
                .expect(":OUTP:SMOD HIMP\r:SOUR:VOLT:LEV 0.125\r:OUTP ON\r:SYST:ERR?\r"), .reply("0,\"No error\"\r"),
                .expect(":READ?\r"), .reply("+1.250000E-01,+1.700000E-04,+1.500000E+00,+2.124800E+04\r"),
                .expect(":SOUR:VOLT:LEV 0.3125\r:READ?\r"),
                .reply("+3.125000E-01,+4.300000E-04,+3.000000E+00,+2.124800E+04\r"),
                .expect(":SOUR:VOLT:LEV 0.5625\r:READ?\r"),
                .reply("+5.625000E-01,+7.700000E-04,+4.500000E+00,+2.124800E+04\r"),
            ] + outputOff)
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyPotential(
            PotentialProgram(versus: .counter, corners_V: [0, 1], rate_V_s: 0.125, currentCompliance_A: 1e-3))
        #expect(try await smu.nextSample().voltage_V == 0.125)
        #expect(try await smu.nextSample().voltage_V == 0.3125)
        #expect(try await smu.nextSample().voltage_V == 0.5625)
        try await smu.finishRun()
        try await transport.verifyFinished()
    }

    @Test func sweepsAsAStaircaseSetBeforeEachReading() async throws {
        // 0 -> 0.2 V at 0.1 V/s, read every second: 0.1 V for the first reading, 0.2 V for the second.
        let transport = ScriptedTransport(
            configured + voltageSource + [
                .expect(":OUTP:SMOD HIMP\r:SOUR:VOLT:LEV 0.1\r:OUTP ON\r:SYST:ERR?\r"), .reply("0,\"No error\"\r"),
                .expect(":READ?\r"), .reply("+1.000000E-01,+1.380000E-04,+1.000000E+00,+2.124800E+04\r"),
                .expect(":SOUR:VOLT:LEV 0.2\r:READ?\r"),
                .reply("+2.000000E-01,+2.760000E-04,+2.000000E+00,+2.124800E+04\r"),
            ] + outputOff)
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyPotential(
            PotentialProgram(versus: .counter, corners_V: [0, 0.2], rate_V_s: 0.1, currentCompliance_A: 1e-3))
        #expect(try await smu.nextSample().voltage_V == 0.1)
        #expect(try await smu.nextSample().voltage_V == 0.2)
        try await smu.finishRun()
        try await transport.verifyFinished()
    }

    @Test func currentComplianceEndsTheStepWithTheOutputOff() async throws {
        let transport = ScriptedTransport(
            configured + voltageSource + [
                .expect(":OUTP:SMOD HIMP\r:SOUR:VOLT:LEV 1\r:OUTP ON\r:SYST:ERR?\r"), .reply("0,\"No error\"\r"),
                .expect(":READ?\r"), .reply("+1.000000E+00,+1.100000E-03,+1.000000E+00,+2.125600E+04\r"),
            ] + outputOff)
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyPotential(.hold(1, versus: .counter, compliance_A: 1e-3))
        let reading = try await smu.nextSample()
        #expect(reading.flags == [.overload], "the compliance reading is kept, flagged")
        do {
            _ = try await smu.nextSample()
            Issue.record("the compliance must end the step")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected && error.message.contains("current compliance"), "\(error)")
        }
        try await transport.verifyFinished()
    }

    @Test func currentAfterAPotentialSwitchesTheSourceBackThroughOutputOff() async throws {
        let transport = ScriptedTransport(
            configured + voltageSource + [
                .expect(":OUTP:SMOD HIMP\r:SOUR:VOLT:LEV 0.1\r:OUTP ON\r:SYST:ERR?\r"), .reply("0,\"No error\"\r"),
            ] + outputOff + [
                .expect(
                    ":SOUR:FUNC CURR\r:SOUR:CURR:MODE FIX\r:SOUR:CURR:RANG 0.01\r:SENS:FUNC \"VOLT\"\r"
                        + ":SENS:VOLT:RANG 2\r:OUTP:SMOD HIMP\r:SENS:VOLT:PROT 2\r:SOUR:CURR:LEV 0.00025\r:OUTP ON\r"
                        + ":SYST:ERR?\r"),
                .reply("0,\"No error\"\r"),
            ] + outputOff)
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        try await smu.applyPotential(.hold(0.1, versus: .counter, compliance_A: 1e-3))
        try await smu.applyCurrent(250e-6)
        try await smu.finishRun()
        try await transport.verifyFinished()
    }

    @Test func potentialsBeyondTheRigsLimitAreRefusedWithoutTouchingTheInstrument() async throws {
        let transport = ScriptedTransport(configured)
        let smu = keithley(transport)
        try await smu.configure(samplingInterval_s: 1, limits: limits)
        await #expect(throws: InstrumentError.self) {
            try await smu.applyPotential(.hold(3, versus: .counter))
        }
        try await transport.verifyFinished()
    }
}
