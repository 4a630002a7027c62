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
    /// The setpoint a `set_temperature` step writes.
    public var setpoint_C: Double?
    /// What a `wait` step waits for, as the file writes it (`temperature within 80 +/- 1 C for 10 min`).
    public var until: [String]?
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
        setpoint_C = step.temperatureSetpoint_C
        until = step.wait.map { $0.conditions.map(\.description) }
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
                + pad("mAh/cm2", 10) + "duration")
        var total = 0.0
        var totalKnown = true
        for step in plan.steps {
            let duration = step.expectedDuration_s
            if let duration { total += duration } else { totalKnown = false }
            lines.append(
                pad(String(step.index), 6) + pad(step.cycle == 0 ? "-" : String(step.cycle), 7)
                    + pad(step.kind.rawValue, 16)
                    + pad(formatNumber(step.currentDensity_mA_cm2, significantDigits: 4), 10)
                    + pad(formatCurrent(step.current_A), 12)
                    + pad(step.capacity_mAh_cm2.map { formatNumber($0, significantDigits: 4) } ?? "-", 10)
                    + (duration.map(formatDuration) ?? "until voltage limit") + conditioning(step))
        }
        lines.append("total: \(formatDuration(total))\(totalKnown ? "" : " plus steps that end on a voltage limit")")
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
public func formatDuration(_ seconds: Double) -> String {
    if seconds >= 3600 {
        let hours = seconds / 3600
        return "\(formatNumber(hours, significantDigits: 4)) h"
    }
    if seconds >= 60 {
        let minutes = Int(seconds / 60)
        let rest = seconds - Double(minutes) * 60
        return rest < 0.5 ? "\(minutes) min" : "\(minutes) min \(formatNumber(rest, significantDigits: 3)) s"
    }
    return "\(formatNumber(seconds, significantDigits: 4)) s"
}
