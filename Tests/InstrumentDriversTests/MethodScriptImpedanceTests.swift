import Domain
import InstrumentDrivers
import Instruments
import Testing
import Transport

/// The script for a potentiostatic spectrum from 100 kHz to 1 kHz, 1 point per decade, 10 mV RMS, around the
/// 12.3 mV open-circuit potential read before it, within a +/-2 V window and a 1 mA range.
private let potentiostaticScript = """
    e
    var f
    var r
    var j
    var t
    set_pgstat_chan 0
    set_pgstat_mode 3
    set_max_bandwidth 1M
    set_range_minmax da -2 2
    set_range ba 1m
    set_autoranging ba 1u 1m
    set_e 12300u
    cell_on
    timer_start
    meas_loop_eis f r j 10m 100k 1k 3i 12300u
    timer_get t
    pck_start
    pck_add t
    pck_add f
    pck_add r
    pck_add j
    pck_end
    endloop
    on_finished:
    cell_off


    """

private let settings = ImpedanceSettings(
    control: .potentiostatic, startFrequency_Hz: 1e5, endFrequency_Hz: 1e3, pointsPerDecade: 1, amplitude: 0.01)

@Suite struct MethodScriptImpedanceTests {
    @Test("a potentiostatic spectrum around the last open-circuit potential, byte for byte, points on the sample clock")
    func potentiostaticSpectrum() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(openCircuitScript), .reply("e\nM000B\nPeb80F4240u;ab8BBAEE0n\n"),
                .expect("Z\n"), .reply("Z\n*\n\n"),
                .expect(potentiostaticScript),
                .reply("e\nM000D\nPebDF5E100n;dcDF5E100m;ccF270E00u;cd5E9F140u\n"),
                .reply("Peb8030D40u;dc8989680m;ccFBFA480u;cd6CED300u\n"),
                .reply("Peb80493E0u;dc80F4240m;cc80249F0m;cd7B3B4C0u\n*\n\n"),
                .expect(openCircuitScript), .reply("e\nM000B\nPeb80F4240u;ab8BBAEE0n\n"),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.openCircuit()
        let resting = try await driver.nextSample()
        #expect(resting.time_s == 1)
        let points = try await driver.measureImpedance(settings)
        #expect(points.map(\.frequency_Hz) == [1e5, 1e4, 1e3])
        #expect(points.map(\.real_Ohm) == [120, 130, 150])
        #expect(points.map(\.imaginary_Ohm) == [-35, -20, -5])
        let times = points.map(\.time_s)
        #expect(
            zip(times, [1.1, 1.2, 1.3]).allSatisfy { abs($0 - $1) < 1e-9 }, "timer after the last sample: \(times)")
        try await driver.openCircuit()
        let next = try await driver.nextSample().time_s
        #expect(abs(next - 2.3) < 1e-9, "samples continue one interval after the last point: \(next)")
        try await transport.verifyFinished()
    }

    @Test("a galvanostatic sweep applies its amplitude on a range that fits it, around zero current")
    func galvanostaticScript() {
        var galvanostatic = settings
        galvanostatic.control = .galvanostatic
        galvanostatic.amplitude = 10e-6
        let lines = MethodScriptScripts.impedance(
            galvanostatic, dcLevel: 0, currentRange_A: 20e-3, voltageLimit_V: 5)
        #expect(lines.contains("set_pgstat_mode 6"))
        #expect(lines.contains("set_range db 20u"), "twice the 10 uA amplitude, not the rig's 20 mA")
        #expect(lines.contains("set_i 0"))
        #expect(lines.contains("meas_loop_geis f r j 10u 100k 1k 3i 0"))
        #expect(lines.last == "" && lines.contains("on_finished:") && lines.contains("cell_off"))
    }

    @Test func anEmStat4RefusesFrequenciesAbove200kHz() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect("t\n"), .reply("tes4_hr1100#Jan 28 2022 11:04:43\nR*\n"), .expect("i\n"), .reply("i42\n"),
            ])
        let driver = methodScript(transport)
        _ = try await driver.identify()
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        var megahertz = settings
        megahertz.startFrequency_Hz = 1e6
        do {
            _ = try await driver.measureImpedance(megahertz)
            Issue.record("1 MHz must be refused on an EmStat4")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected)
            #expect(error.message.contains("200000 Hz") && error.message.contains("1000000 Hz"), "\(error.message)")
        }
        try await transport.verifyFinished()
    }
}

/// The constant-current script of a three-electrode cell: one point per `meas_loop_cp` inside a loop bounded by the
/// script timer, then WE-CE with `meas ... ag`; the window applies to WE-RE.
private let threeElectrodeScript = """
    e
    var p
    var i
    var c
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
    timer_get t
    loop t < 3600
    meas_loop_cp p i 250u 1 1
    endloop
    meas 10m c ag
    timer_get t
    pck_start
    pck_add t
    pck_add p
    pck_add i
    pck_add c
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

@Suite struct MethodScriptThreeElectrodeTests {
    @Test("a three-electrode step records WE-RE from the RE input and WE-CE from a separate reading")
    func bothVoltages() async throws {
        let transport = ScriptedTransport(
            idleSync + [
                .expect(threeElectrodeScript),
                .reply("e\nL\nM000A\nPeb80F4240u;abDF5E100n;ba803D090n,10,212;ac8BBAEE0n\n"),
                .reply("*\nPeb80F4240u;abDF5E100n;ba803D090n,10,212;ag8BBAEE0n\n"),
            ])
        let driver = methodScript(transport)
        try await driver.configure(samplingInterval_s: 1, limits: methodScriptLimits)
        try await driver.measureBothVoltages(true)
        try await driver.applyCurrent(250e-6)
        let sample = try await driver.nextSample()
        #expect(await driver.discardedReadingCount == 1, "a package without WE-CE is not a three-electrode sample")
        #expect(sample.voltageWERE_V == 0.1)
        #expect(abs(sample.voltage_V - 0.0123) < 1e-12)
        #expect(sample.current_A == 250e-6)
        try await transport.verifyFinished()
    }
}
