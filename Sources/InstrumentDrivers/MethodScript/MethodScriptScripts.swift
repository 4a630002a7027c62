public import Domain

/// Generates the MethodSCRIPT scripts the galvanostat driver runs.
///
/// Every script is bounded in time, keeps the measured potential inside a window (leaving the loop and
/// reporting `Tvlimit` when it leaves it), and switches the cell off in `on_finished:`, which the instrument
/// also runs after an abort. A host that dies mid-step therefore leaves the cell off within one script duration.
public enum MethodScriptScripts {
    /// Text sent with `send_string` when the potential left the window.
    public static let voltageLimitMarker = "vlimit"

    /// A constant-current (chronopotentiometry) step: packages of time, potential and current every interval.
    ///
    /// `current_A` is in the instrument's sign convention. With `bothVoltages` (a three-electrode cell), each point
    /// is a one-point `meas_loop_cp` inside a generic `loop` bounded by the script timer, followed by a `meas` of
    /// the WE-CE potential (`ag`), so a package holds WE-RE (`ab`) and WE-CE; the window applies to WE-RE.
    public static func constantCurrent(
        current_A: Double, interval_s: Double, duration_s: Double, voltageLimit_V: Double, mainsFrequency_Hz: Int,
        bothVoltages: Bool = false
    ) -> [String] {
        let high = MethodScriptLiteral.format(voltageLimit_V)
        let low = MethodScriptLiteral.format(-voltageLimit_V)
        let currentRange = MethodScriptLiteral.format(max(abs(current_A), 1e-9))
        let interval = MethodScriptLiteral.format(interval_s)
        let current = MethodScriptLiteral.format(current_A)
        let setUp = [
            "set_pgstat_chan 0",
            "set_pgstat_mode 6",
            "set_max_bandwidth \(MethodScriptLiteral.format(5.850535 / interval_s))",
            "set_acquisition_frac_autoadjust \(mainsFrequency_Hz)",
            "set_range_minmax ab \(low) \(high)",
            "set_autoranging ab \(low) \(high)",
            "set_range db \(currentRange)",
            "cell_on",
            "timer_start",
        ]
        let window = [
            "if p > \(high)",
            "send_string \"\(voltageLimitMarker)\"",
            "breakloop",
            "endif",
            "if p < \(low)",
            "send_string \"\(voltageLimitMarker)\"",
            "breakloop",
            "endif",
        ]
        let end = ["endloop", "on_finished:", "cell_off", ""]
        guard bothVoltages else {
            return ["e", "var p", "var i", "var t"] + setUp
                + ["meas_loop_cp p i \(current) \(interval) \(MethodScriptLiteral.format(duration_s))"]
                + package("t", "p", "i") + window + end
        }
        return ["e", "var p", "var i", "var c", "var t"] + setUp
            + pointByPoint("meas_loop_cp p i \(current) \(interval) \(interval)", duration_s: duration_s)
            + package("t", "p", "i", "c") + window + end
    }

    /// Integration time of the WE-CE reading in three-electrode scripts.
    static let wholeCellIntegration = "10m"

    /// The lines that send one package: the script timer into `t`, then `variables` in order.
    private static func package(_ variables: String...) -> [String] {
        ["timer_get t", "pck_start"] + variables.map { "pck_add \($0)" } + ["pck_end"]
    }

    /// The head of a three-electrode loop: a generic `loop` bounded by the script timer, whose every iteration runs
    /// `onePointLoop` (a measurement loop of one interval) and then reads WE-CE into `c`.
    private static func pointByPoint(_ onePointLoop: String, duration_s: Double) -> [String] {
        [
            "timer_get t", "loop t < \(MethodScriptLiteral.format(duration_s))", onePointLoop, "endloop",
            "meas \(wholeCellIntegration) c ag",
        ]
    }

    /// Open circuit: the cell switched off (high impedance) while the potential is measured every interval; with
    /// `bothVoltages`, WE-RE and WE-CE, as in ``constantCurrent(current_A:interval_s:duration_s:voltageLimit_V:mainsFrequency_Hz:bothVoltages:)``.
    public static func openCircuit(
        interval_s: Double, duration_s: Double, voltageLimit_V: Double, mainsFrequency_Hz: Int,
        bothVoltages: Bool = false
    ) -> [String] {
        let high = MethodScriptLiteral.format(voltageLimit_V)
        let low = MethodScriptLiteral.format(-voltageLimit_V)
        let interval = MethodScriptLiteral.format(interval_s)
        let setUp = [
            "set_pgstat_chan 0",
            "set_pgstat_mode 2",
            "set_max_bandwidth \(MethodScriptLiteral.format(5.850535 / interval_s))",
            "set_acquisition_frac_autoadjust \(mainsFrequency_Hz)",
            "set_range_minmax ab \(low) \(high)",
            "set_autoranging ab \(low) \(high)",
            "cell_off",
            "timer_start",
        ]
        let end = ["endloop", "on_finished:", "cell_off", ""]
        guard bothVoltages else {
            return ["e", "var p", "var t"] + setUp
                + ["meas_loop_ocp p \(interval) \(MethodScriptLiteral.format(duration_s))"] + package("t", "p") + end
        }
        return ["e", "var p", "var c", "var t"] + setUp
            + pointByPoint("meas_loop_ocp p \(interval) \(interval)", duration_s: duration_s)
            + package("t", "p", "c") + end
    }

    /// An impedance spectrum: potentiostatic (`meas_loop_eis`, around `dcLevel` volts) or galvanostatic
    /// (`meas_loop_geis`, around `dcLevel` amperes), one package of time, frequency, Z' and Z'' per point.
    ///
    /// `amplitude` is RMS (volts or amperes), `currentRange_A` the largest current the cell may carry (the rig's
    /// limit). The sweep is bounded by its point count; `on_finished:` switches the cell off.
    public static func impedance(
        _ settings: ImpedanceSettings, dcLevel: Double, currentRange_A: Double, voltageLimit_V: Double
    ) -> [String] {
        let high = MethodScriptLiteral.format(voltageLimit_V)
        let low = MethodScriptLiteral.format(-voltageLimit_V)
        // A galvanostatic sweep applies only its amplitude: the applied-current range fits its peak (RMS x sqrt 2)
        // with room, within the rig's limit, for resolution at microampere amplitudes.
        let applied_A =
            settings.control == .galvanostatic ? min(currentRange_A, 2 * settings.amplitude) : currentRange_A
        let range = MethodScriptLiteral.format(max(applied_A, 1e-9))
        let sweep =
            "\(MethodScriptLiteral.format(settings.amplitude)) "
            + "\(MethodScriptLiteral.format(settings.startFrequency_Hz)) "
            + "\(MethodScriptLiteral.format(settings.endFrequency_Hz)) \(settings.pointCount)i "
            + MethodScriptLiteral.format(dcLevel)
        var lines = ["e", "var f", "var r", "var j", "var t", "set_pgstat_chan 0"]
        switch settings.control {
        case .potentiostatic:
            lines += [
                "set_pgstat_mode 3",
                "set_max_bandwidth \(MethodScriptLiteral.format(settings.maximumFrequency_Hz * 10))",
                "set_range_minmax da \(low) \(high)",
                "set_range ba \(range)",
                "set_autoranging ba \(MethodScriptLiteral.format(max(currentRange_A / 1000, 1e-9))) \(range)",
                "set_e \(MethodScriptLiteral.format(dcLevel))",
                "cell_on",
                "timer_start",
                "meas_loop_eis f r j \(sweep)",
            ]
        case .galvanostatic:
            lines += [
                "set_pgstat_mode 6",
                "set_max_bandwidth \(MethodScriptLiteral.format(settings.maximumFrequency_Hz * 10))",
                "set_range_minmax ab \(low) \(high)",
                "set_autoranging ab \(low) \(high)",
                "set_range db \(range)",
                "set_i \(MethodScriptLiteral.format(dcLevel))",
                "cell_on",
                "timer_start",
                "meas_loop_geis f r j \(sweep)",
            ]
        }
        return lines + package("t", "f", "r", "j") + ["endloop", "on_finished:", "cell_off", ""]
    }

    /// Switches the cell off and ends: the safe state after a fault or on connect.
    public static let cellOff = ["e", "cell_off", ""]
}
