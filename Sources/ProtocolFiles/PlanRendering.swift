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

    public init(_ step: PlannedStep) {
        index = step.index
        cycle = step.cycle
        kind = step.kind.rawValue
        current_density_mA_cm2 = step.currentDensity_mA_cm2
        current_A = step.current_A
        capacity_mAh_cm2 = step.capacity_mAh_cm2
        duration_s = step.expectedDuration_s
        voltage_limit_V = step.voltageLimit_V
    }
}

/// Renders an expanded plan for people: one line per step, then the total time.
public enum PlanRendering {
    public static func text(_ plan: StepPlan, protocolName: String) -> String {
        var lines = [
            "\(protocolName): \(plan.steps.count) steps for an electrode of \(formatNumber(plan.area_cm2)) cm2"
        ]
        lines.append(
            pad("step", 6) + pad("cycle", 7) + pad("kind", 14) + pad("mA/cm2", 10) + pad("current", 12)
                + pad("mAh/cm2", 10) + "duration")
        var total = 0.0
        var totalKnown = true
        for step in plan.steps {
            let duration = step.expectedDuration_s
            if let duration { total += duration } else { totalKnown = false }
            lines.append(
                pad(String(step.index), 6) + pad(step.cycle == 0 ? "-" : String(step.cycle), 7)
                    + pad(step.kind.rawValue, 14)
                    + pad(formatNumber(step.currentDensity_mA_cm2, significantDigits: 4), 10)
                    + pad(formatCurrent(step.current_A), 12)
                    + pad(step.capacity_mAh_cm2.map { formatNumber($0, significantDigits: 4) } ?? "-", 10)
                    + (duration.map(formatDuration) ?? "until voltage limit"))
        }
        lines.append("total: \(formatDuration(total))\(totalKnown ? "" : " plus steps that end on a voltage limit")")
        return lines.joined(separator: "\n")
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
