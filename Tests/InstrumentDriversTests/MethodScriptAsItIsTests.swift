import Domain
import InstrumentDrivers
import Instruments
import Testing
import Transport

// Transcripts of what a real MethodSCRIPT instrument does that our first simulator did not: it ignores input after
// an error reply, sends `nan` and overload flags, and a serial line garbles and truncates lines. Written from the
// MethodSCRIPT description (shared/research/serial-protocols.md §2.1).

/// The constant-current script for +250 uA, 1 s, +/-2 V (as in MethodScriptGalvanostatTests), up to `cell_on`.
private let constantCurrentHead = """
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

/// A package at `seconds` (whole seconds, 1 to 9): 100 mV at 250 uA, status OK.
private func package(at seconds: Int, status: Int = 0) -> String {
    "Peb8\(String(0xF4240 * seconds, radix: 16, uppercase: true).leftPadded(to: 6))u;abDF5E100n;ba803D090n,1\(status),212\n"
}

private let cellOff: [ScriptedTransport.Step] = [.expect("e\ncell_off\n\n"), .reply("e\n\n")]

@Suite("MethodSCRIPT as it is: transcripts")
struct MethodScriptAsItIsTests {
    @Test("after !0032 the driver waits out the instrument's hold-off, then its cell-off script is acknowledged")
    func runtimeErrorHoldOff() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(constantCurrentHead), .reply("e\nM000A\n" + package(at: 1) + "!0032: Line 14\n"),
            ] + cellOff)
        let driver = methodScript(transport, errorHoldOff: MethodScriptGalvanostat.defaultErrorHoldOff)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        #expect(try await driver.nextSample().time_s == 1)
        do {
            _ = try await driver.nextSample()
            Issue.record("expected the runtime error")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected)
            #expect(error.message.contains("0x0032 critical cell overload"), "\(error.message)")
            #expect(error.message.contains("cell-off script"), "\(error.message)")
        }
        try await transport.verifyFinished()

        // Both error replies (the sync's Z!0006 and the !0032) were followed by at least the manual's 50 ms of
        // silence: the next write came no earlier than the hold-off after the reply was read.
        let transcript = await transport.transcript
        for marker in ["Z!0006", "!0032"] {
            let read = try #require(
                transcript.firstIndex {
                    $0.direction == .instrumentToHost && String(decoding: $0.bytes, as: UTF8.self).contains(marker)
                })
            let nextWrite = try #require(transcript[read...].first { $0.direction == .hostToInstrument })
            #expect(
                transcript[read].time.duration(to: nextWrite.time) >= .milliseconds(100),
                "the host wrote \(transcript[read].time.duration(to: nextWrite.time)) after \(marker)")
        }
    }

    @Test("a nan value stays NaN in the sample, flagged non-finite; an overloaded variable flags the sample")
    func nanAndOverloadAreKeptAndFlagged() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(constantCurrentHead),
                .reply("e\nM000A\nPeb80F4240u;ab     nan;ba803D090n,10,212\n" + package(at: 2, status: 2)),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        let notANumber = try await driver.nextSample()
        #expect(notANumber.voltage_V.isNaN && notANumber.current_A == 250e-6 && notANumber.time_s == 1)
        #expect(notANumber.flags == [.nonFinite])
        let overloaded = try await driver.nextSample()
        #expect(overloaded.flags == [.overload])
        #expect(overloaded.voltage_V == 0.1 && overloaded.time_s == 2)
        #expect(await driver.discardedReadingCount == 0)
        try await transport.verifyFinished()
    }

    @Test("garbled, truncated, unknown and incomplete lines are skipped and counted; no value is made up")
    func spoiledLinesAreCounted() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(constantCurrentHead),
                .reply(
                    Array("e\nM000A\n".utf8) + [0x15, 0x02] + Array("P#,\n".utf8)
                        + Array(("Peb80F42\nXyz\nPeb80F4240u;abDF5E100n\n" + package(at: 2)).utf8)),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        let sample = try await driver.nextSample()
        #expect(sample == InstrumentSample(time_s: 2, current_A: 250e-6, voltage_V: 0.1))
        #expect(await driver.discardedReadingCount == 4, "garbled, truncated, unknown, and a package without current")
        try await transport.verifyFinished()
    }

    @Test("nextSamples returns every package already received in one batch")
    func batchesHoldEveryBufferedPackage() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(constantCurrentHead), .reply("e\nM000A\n" + package(at: 1) + package(at: 2) + package(at: 3)),
                .reply(package(at: 4)),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        #expect(try await driver.nextSamples().map(\.time_s) == [1, 2, 3, 4])
        #expect(await code { _ = try await driver.nextSamples() } == .timeout, "nothing more came")
        try await transport.verifyFinished()
    }

    @Test("a runtime error behind buffered packages: the batch keeps them, the cell goes off, the next call says why")
    func runtimeErrorInABatchIsReportedAfterItsSamples() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(constantCurrentHead),
                .reply("e\nM000A\n" + package(at: 1) + package(at: 2) + "!0032: Line 14\n"),
            ] + cellOff)
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyCurrent(250e-6)
        #expect(try await driver.nextSamples().map(\.time_s) == [1, 2])
        do {
            _ = try await driver.nextSamples()
            Issue.record("expected the runtime error")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected && error.message.contains("0x0032"), "\(error.message)")
        }
        #expect(await code { _ = try await driver.nextSample() } == .notConfigured, "the instrument is idle")
        try await transport.verifyFinished()
    }

    @Test(
        "limits beyond what the identified device can do are refused at configure, naming the rig file's key",
        arguments: [
            ("es4_lr", HardwareLimits(voltage_V: 5, current_A: 0.001), "limits.voltage", "3 V"),
            ("es4_lr", HardwareLimits(voltage_V: 2, current_A: 0.02), "limits.current", "10 mA"),
            ("es4_hr", HardwareLimits(voltage_V: 7, current_A: 0.001), "limits.voltage", "6 V"),
        ])
    func limitsBeyondTheDeviceAreRefused(device: String, limits: HardwareLimits, key: String, allowed: String)
        async throws
    {
        let transport = ScriptedTransport(
            idleSync + [
                .expect("t\n"), .reply("t\(device)1100#Jan 28 2022 11:04:43\nR*\n"), .expect("i\n"), .reply("i7\n"),
            ])
        let driver = methodScript(transport)
        _ = try await driver.identify()
        do {
            try await driver.configure(samplingInterval_s: 1, limits: limits)
            Issue.record("\(device) must refuse \(limits)")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected)
            #expect(error.message.contains(key) && error.message.contains(allowed), "\(error.message)")
        }
        try await transport.verifyFinished()
    }

    @Test("an impedance step beyond the device's frequency range is refused before the run, without a word to it")
    func impedanceRangeIsCheckedAhead() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect("t\n"), .reply("tnexus11200#Jan 28 2022 11:04:43\nR*\n"), .expect("i\n"), .reply("i7\n"),
            ])
        let driver = methodScript(transport)
        #expect(try await driver.identify().model == "PalmSens Nexus")
        var settings = ImpedanceSettings(
            control: .galvanostatic, startFrequency_Hz: 1e6, endFrequency_Hz: 1, pointsPerDecade: 5, amplitude: 1e-5)
        try await driver.checkImpedance(settings)
        settings.startFrequency_Hz = 2e6
        do {
            try await driver.checkImpedance(settings)
            Issue.record("2 MHz is beyond a Nexus")
        } catch let error as InstrumentError {
            #expect(error.message.contains("2000000 Hz") && error.message.contains("1000000 Hz"), "\(error.message)")
        }
        try await transport.verifyFinished()
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
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
