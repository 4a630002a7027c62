import Domain
import InstrumentDrivers
import Instruments
import Testing
import Transport

/// The script the driver must send for +250 uA, 1 s interval, 3600 s bound, +/-2 V window, 50 Hz mains.
private let constantCurrentScript = """
    e
    var p
    var i
    var t
    set_pgstat_chan 0
    set_pgstat_mode 6
    set_max_bandwidth 5850535u
    set_acquisition_frac_autoadjust 50
    set_range_minmax ab -2 2
    set_autoranging ab -2 2
    set_range db 250u
    cell_on
    timer_start
    meas_loop_cp p i 250u 1 3600
    timer_get t
    pck_start
    pck_add t
    pck_add p
    pck_add i
    pck_end
    if p > 2
    send_string "vlimit"
    breakloop
    endif
    if p < -2
    send_string "vlimit"
    breakloop
    endif
    endloop
    on_finished:
    cell_off


    """

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

@Suite struct MethodScriptGalvanostatTests {
    @Test func identifyReadsDeviceFirmwareAndSerial() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect("t\n"), .reply("tes4_hr1100#Jan 28 2022 11:04:43\nR*\n"),
                .expect("i\n"), .reply("iES4HR21A0123\n"),
            ], portDescription: "/dev/ttyACM0")
        let driver = methodScript(transport)
        let identity = try await driver.identify()
        #expect(identity.model == "PalmSens EmStat4 HR")
        #expect(identity.firmware == "1100#Jan 28 2022 11:04:43")
        #expect(identity.serialNumber == "ES4HR21A0123")
        #expect(identity.port == "/dev/ttyACM0")
        #expect(identity.role == "galvanostat")
        #expect(try await driver.identify() == identity)
        try await transport.verifyFinished()
    }

    @Test func constantCurrentStepStreamsSamplesThenOpenCircuitAbortsIt() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(constantCurrentScript),
                .reply("e\nM000A\nPeb80F4240u;abDF5E100n;ba803D090n,10,212\n"),
                .reply("Peb81E8480u;abF270E00n;ba803D090n,10,212\n"),
                .expect("Z\n"), .reply("Z\n*\n\n"),
                .expect(openCircuitScript), .reply("e\nM000B\nPeb80F4240u;ab8BBAEE0n\n"),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        let first = try await driver.nextSample()
        #expect(first == InstrumentSample(time_s: 1, current_A: 250e-6, voltage_V: 0.1))
        let second = try await driver.nextSample()
        #expect(second.time_s == 2)
        #expect(abs(second.voltage_V - 0.12) < 1e-12)
        try await driver.openCircuit()
        let resting = try await driver.nextSample()
        #expect(resting.current_A == 0)
        #expect(abs(resting.voltage_V - 0.0123) < 1e-12)
        #expect(resting.time_s == 3, "the new script's first package comes one interval after the last sample")
        try await transport.verifyFinished()
    }

    @Test func voltageWindowExitIsReportedAsRejection() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(constantCurrentScript), .reply("e\nM000A\nPeb80F4240u;ab82DC6C0u;ba803D090n\n"),
                .reply("Tvlimit\n*\n\n"),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        #expect(try await driver.nextSample().voltage_V == 3)
        #expect(await code { _ = try await driver.nextSample() } == .rejected)
        #expect(await code { _ = try await driver.nextSample() } == .notConfigured)
        try await transport.verifyFinished()
    }

    @Test func scriptEndingByItsTimeBoundIsRenewed() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(constantCurrentScript), .reply("e\nM000A\nPeb80F4240u;abDF5E100n;ba803D090n\n*\n\n"),
                .expect(constantCurrentScript), .reply("e\nM000A\nPeb80F4240u;abDF5E100n;ba803D090n\n"),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        #expect(try await driver.nextSample().time_s == 1)
        #expect(try await driver.nextSample().time_s == 2, "the renewed script's timer starts at the last sample")
        try await transport.verifyFinished()
    }

    @Test func runtimeErrorSwitchesTheCellOffAndIsReported() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(constantCurrentScript), .reply("e\nM000A\n!0032: Line 14\n"),
                .expect("e\ncell_off\n\n"), .reply("e\n\n"),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        do {
            _ = try await driver.nextSample()
            Issue.record("expected the runtime error")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected)
            #expect(error.message.contains("overload"))
        }
        try await transport.verifyFinished()
    }

    @Test func connectingToARunningScriptAbortsItFirst() async throws {
        let transport = ScriptedTransport([
            .expect("\nZ\n"), .reply("Peb80F4240u;abDF5E100n;ba803D090n\nZ\n*\n\n"),
            .expect("e\ncell_off\n\n"), .reply("e\n\n"),
        ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        #expect(await driver.discardedReadingCount == 1, "another host's script: not a sample of this driver")
        #expect(await driver.takePendingSamples().isEmpty)
        try await transport.verifyFinished()
    }

    @Test func abortRacingTheScriptsOwnEndIsResolved() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(constantCurrentScript), .reply("e\nM000A\n"),
                .expect("Z\n"), .reply("*\n\n"), .reply("Z!0006\n"),
                .expect(openCircuitScript), .reply("e\n"),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        try await driver.openCircuit()
        try await transport.verifyFinished()
    }

    @Test func rejectedScriptIsReported() async throws {
        let transport = ScriptedTransport(
            idleSync + [.expect(constantCurrentScript), .reply("e!4001: Line 3, Col 1\n")])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        #expect(await code { try await driver.applyCurrent(250e-6) } == .rejected)
        try await transport.verifyFinished()
    }

    @Test func silenceIsATimeoutAndTheNextCallResynchronises() async throws {
        let transport = ScriptedTransport(
            idleSync + [.expect(constantCurrentScript), .reply("e\nM000A\n")] + idleSync + [
                .expect(openCircuitScript), .reply("e\n"),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        #expect(await code { _ = try await driver.nextSample() } == .timeout)
        try await driver.openCircuit()
        try await transport.verifyFinished()
    }

    @Test func currentAboveTheRigLimitIsRefusedWithoutTouchingTheInstrument() async throws {
        let transport = ScriptedTransport(idleSync)
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        #expect(await code { try await driver.applyCurrent(-2e-3) } == .rejected)
        try await transport.verifyFinished()
    }

    @Test func invertedInstrumentSignIsMappedToIUPAC() async throws {
        let inverted = constantCurrentScript.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0 == "meas_loop_cp p i 250u 1 3600" ? "meas_loop_cp p i -250u 1 3600" : String($0) }
            .joined(separator: "\n")
        #expect(inverted.contains("i -250u 1"))
        let transport = ScriptedTransport(
            idleSync + [.expect(inverted), .reply("e\nM000A\nPeb80F4240u;abDF5E100n;ba7FC2F70n\n")])
        let driver = methodScript(transport) { $0.currentSign = .oppositeToIUPAC }
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        #expect(try await driver.nextSample().current_A == 250e-6)
        try await transport.verifyFinished()
    }

    @Test func flowControlBytesAndCarriageReturnsInRepliesAreTolerated() async throws {
        let transport = ScriptedTransport([
            .reply([0x11]), .expect("\nZ\n"), .reply("Z!0006\r\n"), .expect("e\ncell_off\n\n"),
            .reply([0x00] + Array("e\r\n\r\n".utf8)),
        ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await transport.verifyFinished()
    }
}

@Suite struct MethodScriptRenewalSafetyTests {
    @Test func scriptEndingWithoutDataIsNotRenewedForever() async throws {
        let transport = ScriptedTransport(idleSync + [.expect(constantCurrentScript), .reply("e\nM000A\n*\n\n")])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        await #expect(throws: InstrumentError.self) { try await driver.nextSample() }
        try await transport.verifyFinished()
    }
}

/// Packages that arrive while the driver aborts its own script are samples like any other.
@Suite struct MethodScriptAbortKeepsPackagesTests {
    @Test func packagesArrivingDuringAnAbortAreReturnedByTheNextSamples() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(constantCurrentScript), .reply("e\nM000A\nPeb80F4240u;abDF5E100n;ba803D090n,10,212\n"),
                // One package was on its way when the Z arrived, one more left before the loop saw the abort.
                .expect("Z\n"),
                .reply(
                    "Peb81E8480u;abF270E00n;ba803D090n,10,212\nZ\nPeb82DC6C0u;abDF5E100n;ba803D090n,10,212\n*\n\n"),
                .expect(openCircuitScript), .reply("e\nM000B\nPeb80F4240u;ab8BBAEE0n\n"),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        #expect(try await driver.nextSample() == InstrumentSample(time_s: 1, current_A: 250e-6, voltage_V: 0.1))
        try await driver.openCircuit()
        let beforeAck = try await driver.nextSample()
        #expect(beforeAck.time_s == 2)
        #expect(beforeAck.current_A == 250e-6, "measured under the constant-current step")
        #expect(abs(beforeAck.voltage_V - 0.12) < 1e-12)
        #expect(try await driver.nextSample() == InstrumentSample(time_s: 3, current_A: 250e-6, voltage_V: 0.1))
        let resting = try await driver.nextSample()
        #expect(resting.current_A == 0)
        #expect(resting.time_s == 4, "the open-circuit script continues one interval after the last kept sample")
        #expect(await driver.discardedReadingCount == 0)
        try await transport.verifyFinished()
    }

    @Test func finishRunAbortsSwitchesTheCellOffAndStartsNoMeasurement() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(constantCurrentScript), .reply("e\nM000A\nPeb80F4240u;abDF5E100n;ba803D090n,10,212\n"),
                // A good package, then one without a time: the only kind the driver may drop.
                .expect("Z\n"), .reply("Peb81E8480u;abF270E00n;ba803D090n,10,212\nPabF270E00n\nZ\n*\n\n"),
                .expect("e\ncell_off\n\n"), .reply("e\n\n"),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        #expect(try await driver.nextSample().time_s == 1)
        try await driver.finishRun()
        let pending = await driver.takePendingSamples()
        #expect(pending.map(\.time_s) == [2])
        #expect(pending.first?.current_A == 250e-6)
        #expect(await driver.takePendingSamples().isEmpty, "handed over once")
        #expect(await driver.discardedReadingCount == 1)
        #expect(await code { _ = try await driver.nextSample() } == .notConfigured, "idle: nothing runs")
        try await transport.verifyFinished()
    }

    @Test func resynchronisingAfterATimeoutKeepsThePackagesOfTheDriversOwnScript() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(constantCurrentScript), .reply("e\nM000A\n"),
                .expect("\nZ\n"), .reply("Peb80F4240u;abDF5E100n;ba803D090n,10,212\nZ\n*\n\n"),
                .expect("e\ncell_off\n\n"), .reply("e\n\n"),
                .expect(openCircuitScript), .reply("e\nM000B\nPeb80F4240u;ab8BBAEE0n\n"),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        #expect(await code { _ = try await driver.nextSample() } == .timeout)
        try await driver.openCircuit()
        #expect(try await driver.nextSample() == InstrumentSample(time_s: 1, current_A: 250e-6, voltage_V: 0.1))
        let resting = try await driver.nextSample()
        #expect(resting.current_A == 0)
        #expect(resting.time_s == 2)
        #expect(await driver.discardedReadingCount == 0)
        try await transport.verifyFinished()
    }
}
