import Domain
import Foundation
import InstrumentDrivers
import Instruments
import Testing
import Transport

/// The script for a hold at 100 mV, 1 s interval, 3600 s bound, +/-2 V window, a 500 uA current limit (the window
/// and top range 550 uA, a tenth above), 50 Hz mains, two-electrode.
private let holdScript = """
    e
    var p
    var i
    var t
    set_pgstat_chan 0
    set_pgstat_mode 2
    set_max_bandwidth 5850535u
    set_acquisition_frac_autoadjust 50
    set_range_minmax da -2 2
    set_range ba 550u
    set_autoranging ba 1n 550u
    set_e 100m
    cell_on
    timer_start
    meas_loop_ca p i 100m 1 3600
    timer_get t
    pck_start
    pck_add t
    pck_add p
    pck_add i
    pck_end
    if i > 550u
    send_string "ilimit"
    breakloop
    endif
    if i < -550u
    send_string "ilimit"
    breakloop
    endif
    endloop
    on_finished:
    cell_off


    """

/// The head of a CV at 10 mV/s, 0 -> 10 mV -> -10 mV -> 0, three scans, 50 ms interval (500 uV steps), no current
/// limit (the rig's 1 mA is the window).
private let cvScript = """
    e
    var p
    var i
    var t
    set_pgstat_chan 0
    set_pgstat_mode 2
    set_max_bandwidth 117010700u
    set_acquisition_frac_autoadjust 50
    set_range_minmax da -2 2
    set_range ba 1m
    set_autoranging ba 1n 1m
    set_e 0
    cell_on
    timer_start
    meas_loop_cv p i 0 10m -10m 500u 10m nscans(3)
    timer_get t
    pck_start
    pck_add t
    pck_add p
    pck_add i
    pck_end
    if i > 1m
    send_string "ilimit"
    breakloop
    endif
    if i < -1m
    send_string "ilimit"
    breakloop
    endif
    endloop
    on_finished:
    cell_off


    """

@Suite("MethodSCRIPT as a potentiostat: transcripts")
struct MethodScriptPotentiostatTests {
    @Test("a hold runs meas_loop_ca with the current window a tenth above the limit; the run ends with the cell off")
    func hold() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(holdScript), .reply("e\nM0007\nPeb80F4240u;da8000064m;ba800008Au,10,212\n"),
                .expect("Z\n"), .reply("Z\n*\n\n"), .expect("e\ncell_off\n\n"), .reply("e\n\n"),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.applyPotential(.hold(0.1, versus: .counter, compliance_A: 500e-6))
        #expect(try await driver.nextSample() == InstrumentSample(time_s: 1, current_A: 138e-6, voltage_V: 0.1))
        try await driver.finishRun()
        try await transport.verifyFinished()
    }

    @Test("a CV runs meas_loop_cv with nscans; when it ends the driver holds its last potential")
    func cyclicVoltammetryThenHold() async throws {
        let holdAtZero =
            holdScript
            .replacingOccurrences(of: "set_max_bandwidth 5850535u", with: "set_max_bandwidth 117010700u")
            .replacingOccurrences(of: "550u", with: "1m")
            .replacingOccurrences(of: "set_e 100m", with: "set_e 0")
            .replacingOccurrences(of: "meas_loop_ca p i 100m 1 3600", with: "meas_loop_ca p i 0 50m 3600")
        let transport = ScriptedTransport(
            idleSync + [
                .expect(cvScript), .reply("e\nM0005\nPeb800C350u;da80001F4u;ba8000004n,10,209\n*\n\n"),
                .expect(holdAtZero), .reply("e\nM0007\nPeb800C350u;da8000000 ;ba8000000 ,10,209\n"),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 0.05, limits: methodScriptLimits)
        try await driver.applyPotential(
            PotentialProgram(versus: .counter, corners_V: [0, 0.01, -0.01, 0], rate_V_s: 0.01, cycles: 3))
        let first = try await driver.nextSample()
        #expect(abs(first.time_s - 0.05) < 1e-12 && abs(first.voltage_V - 0.0005) < 1e-15)
        #expect(abs(first.current_A - 4e-9) < 1e-21)
        let held = try await driver.nextSample()
        #expect(held.voltage_V == 0 && abs(held.time_s - 0.1) < 1e-12, "the hold continues the clock")
        try await transport.verifyFinished()
    }

    @Test("sweeps MethodSCRIPT cannot run, and potentials beyond the rig's limit, are refused without a script")
    func refusals() async throws {
        let transport = ScriptedTransport(idleSync)
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        await #expect(throws: InstrumentError.self) {
            try await driver.applyPotential(
                PotentialProgram(versus: .counter, corners_V: [0, 0.1, -0.1, 0.05, 0], rate_V_s: 0.01))
        }
        await #expect(throws: InstrumentError.self) { try await driver.applyPotential(.hold(3, versus: .counter)) }
        try await transport.verifyFinished()
    }
}
