public import Domain

/// Potentiostatic scripts: a hold (`meas_loop_ca`), a linear sweep (`meas_loop_lsv`) and a cyclic voltammogram
/// (`meas_loop_cv`), each sending packages of time, potential and current.
extension MethodScriptScripts {
    /// Text sent with `send_string` when the current left its window.
    public static let currentLimitMarker = "ilimit"
    /// The lowest current range the scripts autorange down to: the EmStat4 LR's 1 nA range, so nA currents of a
    /// microelectrode are resolved while mA currents still fit the top range.
    public static let lowestCurrentRange_A = 1e-9

    /// Why a program cannot run as one of these scripts, or nil.
    public static func refusal(of program: PotentialProgram, bothVoltages: Bool) -> String? {
        if program.rate_V_s != nil {
            let corners = program.corners_V
            let isLinear = corners.count == 2 && program.cycles == 1
            // Three corners (there and back) are a CV whose second vertex is where it began.
            let isCyclic = (corners.count == 4 || corners.count == 3) && corners[0] == corners[corners.count - 1]
            if !isLinear, !isCyclic {
                return "MethodSCRIPT runs a linear sweep (from, to) or a cyclic voltammogram (from, one or two "
                    + "vertices, back to from); this sweep has \(corners.count) corners"
            }
            if bothVoltages {
                return "a sweep's measurement loop cannot read WE-CE between its points: run sweeps on this rig in a "
                    + "two-electrode protocol (RE wired to CE)"
            }
        }
        if program.versus == .counter, bothVoltages {
            return "the instrument controls WE against its RE input: a potential vs CE needs a two-electrode protocol"
        }
        return nil
    }

    /// The script of `program`: potentiostatic mode, the potential window on `da`, the current autoranging from
    /// 1 nA to `currentRange_A`, the current window at +/- `currentRange_A` (leaving the loop and reporting
    /// `ilimit`). A hold runs `duration_s`; a sweep steps `rate x interval` per point, so one package per interval.
    /// With `bothVoltages` (a hold on a three-electrode cell) each point is a one-point `meas_loop_ca` followed by a
    /// `meas` of WE-CE, as in ``constantCurrent(current_A:interval_s:duration_s:voltageLimit_V:mainsFrequency_Hz:bothVoltages:)``.
    public static func potentiostatic(
        _ program: PotentialProgram, interval_s: Double, duration_s: Double, currentRange_A: Double,
        voltageLimit_V: Double, mainsFrequency_Hz: Int, bothVoltages: Bool = false
    ) -> [String] {
        let range = MethodScriptLiteral.format(max(currentRange_A, lowestCurrentRange_A))
        let high = MethodScriptLiteral.format(currentRange_A)
        let low = MethodScriptLiteral.format(-currentRange_A)
        let interval = MethodScriptLiteral.format(interval_s)
        let corners = program.corners_V.map(MethodScriptLiteral.format)
        let setUp = [
            "set_pgstat_chan 0",
            "set_pgstat_mode 2",
            "set_max_bandwidth \(MethodScriptLiteral.format(5.850535 / interval_s))",
            "set_acquisition_frac_autoadjust \(mainsFrequency_Hz)",
            "set_range_minmax da \(MethodScriptLiteral.format(-voltageLimit_V)) "
                + MethodScriptLiteral.format(voltageLimit_V),
            "set_range ba \(range)",
            "set_autoranging ba \(MethodScriptLiteral.format(lowestCurrentRange_A)) \(range)",
            "set_e \(corners[0])",
            "cell_on",
            "timer_start",
        ]
        let window = [
            "if i > \(high)",
            "send_string \"\(currentLimitMarker)\"",
            "breakloop",
            "endif",
            "if i < \(low)",
            "send_string \"\(currentLimitMarker)\"",
            "breakloop",
            "endif",
        ]
        let end = ["endloop", "on_finished:", "cell_off", ""]
        let package = ["timer_get t", "pck_start", "pck_add t", "pck_add p", "pck_add i"]
        guard let rate = program.rate_V_s else {
            let hold = "meas_loop_ca p i \(corners[0]) \(interval)"
            if bothVoltages {
                return ["e", "var p", "var i", "var c", "var t"] + setUp
                    + [
                        "timer_get t", "loop t < \(MethodScriptLiteral.format(duration_s))", "\(hold) \(interval)",
                        "endloop", "meas \(wholeCellIntegration) c ag",
                    ] + package + ["pck_add c", "pck_end"] + window + end
            }
            return ["e", "var p", "var i", "var t"] + setUp + ["\(hold) \(MethodScriptLiteral.format(duration_s))"]
                + package + ["pck_end"] + window + end
        }
        let step = MethodScriptLiteral.format(rate * interval_s)
        let scanRate = MethodScriptLiteral.format(rate)
        let loop =
            corners.count == 2
            ? "meas_loop_lsv p i \(corners[0]) \(corners[1]) \(step) \(scanRate)"
            : "meas_loop_cv p i \(corners[0]) \(corners[1]) \(corners[2]) \(step) \(scanRate) nscans(\(program.cycles))"
        return ["e", "var p", "var i", "var t"] + setUp + [loop] + package + ["pck_end"] + window + end
    }
}

/// The current an instrument may reach under a potential program whose step ends at `limit_A`: a tenth more, so the
/// engine sees the step's limit before the instrument's window or compliance acts, to four significant digits so a
/// command reads `0.0011`, not `0.0011000000000000001`.
func currentWindow(for limit_A: Double) -> Double {
    let value = limit_A * 1.1
    guard value > 0, value.isFinite else { return value }
    var scale = 1.0
    while value * scale < 1000 { scale *= 10 }
    while value * scale >= 10000 { scale /= 10 }
    return (value * scale).rounded() / scale
}
