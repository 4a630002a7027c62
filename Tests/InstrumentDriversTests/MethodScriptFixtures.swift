import Domain
import InstrumentDrivers
import Transport

// What the MethodSCRIPT transcript tests share: the scripts and replies every run starts with, and the settings.

/// The open-circuit script for a 1 s interval, 3600 s bound, +/-2 V window, 50 Hz mains.
let openCircuitScript = """
    e
    var p
    var t
    set_pgstat_chan 0
    set_pgstat_mode 2
    set_max_bandwidth 5850535u
    set_acquisition_frac_autoadjust 50
    set_range_minmax ab -2 2
    set_autoranging ab -2 2
    cell_off
    timer_start
    meas_loop_ocp p 1 3600
    timer_get t
    pck_start
    pck_add t
    pck_add p
    pck_end
    endloop
    on_finished:
    cell_off


    """

/// Sync on an idle instrument, then the one-line cell_off script.
let idleSync: [ScriptedTransport.Step] = [
    .expect("\nZ\n"), .reply("Z!0006\n"), .expect("e\ncell_off\n\n"), .reply("e\n\n"),
]

/// The limits every MethodSCRIPT transcript test configures.
let methodScriptLimits = HardwareLimits(voltage_V: 2, current_A: 1e-3)
/// A MethodSCRIPT driver on `transport` with the rig file's defaults (adjusted by `adjust`) and, unless a test is
/// about it, no pause after error replies, so transcripts run at once.
func methodScript(
    _ transport: ScriptedTransport, errorHoldOff: Duration = .zero,
    adjust: (inout MethodScriptConfiguration) -> Void = { _ in }
) -> MethodScriptGalvanostat {
    var configuration = MethodScriptConfiguration(line: SerialLineConfiguration(port: "scripted", baudRate: 921_600))
    adjust(&configuration)
    return MethodScriptGalvanostat(transport: transport, configuration: configuration, errorHoldOff: errorHoldOff)
}
