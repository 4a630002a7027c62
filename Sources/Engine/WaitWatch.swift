import Domain

/// Judges the conditions of a `wait` (or waiting `set_temperature`) step, sample by sample, at open circuit.
///
/// Each condition keeps the cell time since which its quantity has stayed in the band; a reading outside the band
/// starts it again, and a missing or unusable one (a stale temperature, a pressure sensor that did not answer) neither
/// confirms nor breaks it. The step ends when every condition has held for its settling time, measured on sample
/// timestamps. A timeout that passes first pauses the run, naming the conditions not met and their latest readings;
/// after the operator's resume the wait starts afresh with a new timeout.
struct WaitWatch: Sendable {
    /// The name the watch's verdicts carry.
    static let criterion = "wait"

    /// What a sample decided.
    enum Judgement: Sendable {
        /// Every condition held for its time.
        case settled
        /// The timeout passed first.
        case timedOut(Verdict)
    }

    private var heldSince: [Double?] = []
    private var latest: [Double?] = []
    /// Cell time the wait (re)started.
    private var start_s = 0.0
    private var timedOut = false

    /// A step began (or resumed) at `time_s`: every condition starts afresh.
    mutating func start(_ rule: WaitRule?, at time_s: Double) {
        heldSince = Array(repeating: nil, count: rule?.conditions.count ?? 0)
        latest = heldSince
        start_s = time_s
        timedOut = false
    }

    /// The judgement on `sample` for a step waiting on `rule`; nil while the wait goes on.
    mutating func judge(_ sample: InstrumentSample, rule: WaitRule) -> Judgement? {
        guard heldSince.count == rule.conditions.count, !timedOut else { return nil }
        let time = sample.time_s
        var settled = true
        for (index, condition) in rule.conditions.enumerated() {
            if let value = condition.value(of: sample) {
                latest[index] = value
                heldSince[index] = condition.contains(value) ? (heldSince[index] ?? time) : nil
            }
            let tolerance = 1e-9 * max(1, condition.hold_s)
            guard let since = heldSince[index], time - since >= condition.hold_s - tolerance else {
                settled = false
                continue
            }
        }
        if settled { return .settled }
        guard let timeout = rule.timeout_s, time - start_s >= timeout else { return nil }
        timedOut = true
        let unmet = rule.conditions.indices.filter { index in
            guard let since = heldSince[index] else { return true }
            return time - since < rule.conditions[index].hold_s
        }
        let details = unmet.map { index in
            let condition = rule.conditions[index]
            let reading =
                latest[index].map { "last read \(formatNumber($0, significantDigits: 4)) \(condition.quantity.unit)" }
                ?? "no usable reading"
            return "\(condition.description) (\(reading))"
        }
        var evidence: [String: Double] = ["timeout_s": timeout, "waited_s": time - start_s]
        for index in unmet {
            if let value = latest[index] { evidence[rule.conditions[index].quantity.rawValue] = value }
        }
        return .timedOut(
            Verdict(
                criterion: Self.criterion, action: .pause,
                reason: "not met within the \(formatSeconds(timeout)) timeout: " + details.joined(separator: "; ")
                    + ". The cell is at open circuit; settle the rig, then resume (the wait starts again) or abort",
                time_s: time, evidence: evidence))
    }
}
