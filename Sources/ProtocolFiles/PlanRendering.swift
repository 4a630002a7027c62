import Domain

/// One line of an expanded plan as `cellrig plan --json` prints it.
public struct PlanRow: Sendable, Hashable, Codable {
    public var index: Int
    public var cycle: Int
    public var kind: String
    /// Magnitude; the direction is in `kind` and in the sign of `current_A`.
    public var current_density_mA_cm2: Double
    public var current_A: Double
    public var capacity_mAh_cm2: Double?
    /// Expected duration: the shorter of the time limit and capacity / current; nil when only a voltage limit ends it.
    public var duration_s: Double?
    public var voltage_limit_V: Double?
    /// What a potentiostatic or sweep step sets (`-10 mV -> 10 mV -> -10 mV vs RE at 10 mV/s`).
    public var potential: String?
    public var current_limit_A: Double?
    public var current_cutoff_A: Double?
    /// A rest's relaxation rule (`dV/dt < 0.1 mV/min for 5 min`).
    public var until: String?
    /// The setpoint a `set_temperature` step writes.
    public var setpoint_C: Double?
    /// What a `wait` step waits for, as the file writes it (`temperature within 80 +/- 1 C for 10 min`).
    public var wait_until: [String]?
    /// When an unmet wait pauses the run.
    public var timeout_s: Double?

    public init(_ step: PlannedStep) {
        index = step.index
        cycle = step.cycle
        kind = step.kind.rawValue
        current_density_mA_cm2 = step.currentDensity_mA_cm2
        current_A = step.current_A
        capacity_mAh_cm2 = step.capacity_mAh_cm2
        duration_s = step.expectedDuration_s
        voltage_limit_V = step.voltageLimit_V
        potential = step.potential?.summary
        current_limit_A = step.currentLimit_A
        current_cutoff_A = step.currentCutoff_A
        until = step.relaxation.map(PlanRendering.describe)
        setpoint_C = step.temperatureSetpoint_C
        wait_until = step.wait.map { $0.conditions.map(\.description) }
        timeout_s = step.wait?.timeout_s
    }
}

/// Renders an expanded plan for people: one line per step, then the total time.
public enum PlanRendering {
    public static func text(_ plan: StepPlan, protocolName: String) -> String {
        var lines = [
            "\(protocolName): \(plan.steps.count) steps for an electrode of \(formatNumber(plan.area_cm2)) cm2"
        ]
        lines.append(
            pad("step", 6) + pad("cycle", 7) + pad("kind", 16) + pad("mA/cm2", 10) + pad("current", 12)
                + pad("mAh/cm2", 10) + pad("duration", 12) + "setting")
        var total = 0.0
        var totalKnown = true
        for step in plan.steps {
            let duration = step.expectedDuration_s
            if let duration { total += duration } else { totalKnown = false }
            lines.append(
                pad(String(step.index), 6) + pad(step.cycle == 0 ? "-" : String(step.cycle), 7)
                    + pad(step.kind.rawValue, 16)
                    + pad(
                        step.kind.controlsPotential
                            ? "-" : formatNumber(step.currentDensity_mA_cm2, significantDigits: 4),
                        10)
                    + pad(step.kind.controlsPotential ? "measured" : formatCurrent(step.current_A), 12)
                    + pad(step.capacity_mAh_cm2.map { formatNumber($0, significantDigits: 4) } ?? "-", 10)
                    + trailing(duration.map(formatDuration) ?? "until its limit", detail(step) + conditioning(step)))
        }
        lines.append("total: \(formatDuration(total))\(totalKnown ? "" : " plus steps that end on a limit")")
        return lines.joined(separator: "\n")
    }

    /// `, at least: setpoint 80 C, until temperature within 80 +/- 1 C for 10 min, timeout 2 h` for conditioning
    /// steps (their duration is the shortest the wait can take); empty for the others.
    private static func conditioning(_ step: PlannedStep) -> String {
        var parts: [String] = []
        if let setpoint = step.temperatureSetpoint_C { parts.append("setpoint \(formatNumber(setpoint)) C") }
        if let wait = step.wait {
            parts.append("until " + wait.conditions.map(\.description).joined(separator: " and "))
            parts.append(wait.timeout_s.map { "timeout \(formatDuration($0))" } ?? "no timeout")
        }
        guard !parts.isEmpty else { return "" }
        return (step.wait == nil ? " " : " at least; ") + parts.joined(separator: ", ")
    }

    /// What the columns do not say: the potential a potential-controlled step sets and its current bounds, a rest's
    /// relaxation rule, a galvanostatic step's voltage limit.
    static func detail(_ step: PlannedStep) -> String {
        var parts: [String] = []
        if let potential = step.potential { parts.append(potential.summary) }
        if let limit = step.currentLimit_A { parts.append("ends at |I| >= \(formatCurrent(limit))") }
        if let cutoff = step.currentCutoff_A { parts.append("ends at |I| <= \(formatCurrent(cutoff))") }
        if let relaxation = step.relaxation { parts.append("or once \(describe(relaxation))") }
        if let limit = step.voltageLimit_V { parts.append("ends at |V| >= \(formatPotential(limit))") }
        return parts.joined(separator: ", ")
    }

    /// `dV/dt < 0.1 mV/min for 5 min`.
    static func describe(_ rule: RelaxationRule) -> String {
        "dV/dt < \(formatNumber(rule.rate_V_s * 60e3, significantDigits: 4)) mV/min for \(formatDuration(rule.hold_s))"
    }

    /// The last column, followed by the setting when there is one (no trailing blanks otherwise).
    private static func trailing(_ duration: String, _ detail: String) -> String {
        detail.isEmpty ? duration : pad(duration, 12) + detail
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}

/// Formats a current with an SI prefix: `-2 nA`, `98 uA`, `0.94 mA`.
public func formatCurrent(_ amps: Double) -> String {
    let magnitude = abs(amps)
    if magnitude == 0 { return "0 A" }
    let (scale, unit): (Double, String) =
        magnitude >= 1
        ? (1, "A")
        : magnitude >= 1e-3
            ? (1e3, "mA")
            : magnitude >= 1e-6
                ? (1e6, "uA")
                : magnitude >= 1e-9 ? (1e9, "nA") : (1e12, "pA")
    return "\(formatNumber(amps * scale, significantDigits: 4)) \(unit)"
}

/// Formats a duration as `10 h`, `2.5 h`, `6 min 15 s`, `10 s`.
///
/// The value is rounded to what is shown before it is split into units, so no part ever reads 60: 59.9996 s is
/// `1 min`, 3599.6 s is `1 h`, never `59 min 60 s`.
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "\(seconds) s" }
    if seconds < 0 { return "-" + formatDuration(-seconds) }
    let shownSeconds = Double(formatNumber(seconds, significantDigits: 4)) ?? seconds
    if shownSeconds < 60 { return "\(formatNumber(seconds, significantDigits: 4)) s" }
    let wholeSeconds = Int(seconds.rounded())
    if wholeSeconds < 3600 {
        let (minutes, rest) = wholeSeconds.quotientAndRemainder(dividingBy: 60)
        return rest == 0 ? "\(minutes) min" : "\(minutes) min \(rest) s"
    }
    return "\(formatNumber(max(seconds, 3600) / 3600, significantDigits: 4)) h"
}
