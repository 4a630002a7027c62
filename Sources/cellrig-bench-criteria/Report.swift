import Domain
import Engine
import Foundation

func percentile(_ values: [Double], _ fraction: Double) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let position = fraction * Double(sorted.count - 1)
    let lower = Int(position.rounded(.down))
    let upper = min(lower + 1, sorted.count - 1)
    return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
}

func cell(_ value: Double?, _ digits: Int = 3) -> String {
    guard let value else { return "-" }
    return formatNumber(value, significantDigits: digits)
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

/// One candidate's figures over a set of runs.
struct Tally {
    var shorted = 0
    var detected = 0
    var early = 0
    var missed = 0
    var shortFree = 0
    var falseAlarms = 0
    var samples: [Double] = []
    var seconds: [Double] = []
    var charges: [Double] = []
    /// Latency in judged windows: samples at 1 s sampling and coarser, 1 s windows of samples at finer sampling
    /// (where dendrite-short also judges 1 s means): the seconds from the onset over the window, rounded up.
    var windows: [Double] = []

    init(_ scores: [RunScore], candidate: Int) {
        for score in scores {
            switch score.outcomes[candidate] {
            case .detected(let samples, let seconds, let charge):
                shorted += 1
                detected += 1
                self.samples.append(Double(samples))
                self.seconds.append(seconds)
                charges.append(charge)
                let window = max(score.scenario.interval_s, ShortDetectionTuning.standard.aggregationWindow_s)
                windows.append(max(1, (seconds / window - 1e-9).rounded(.up)))
            case .early:
                shorted += 1
                early += 1
            case .missed:
                shorted += 1
                missed += 1
            case .falseAlarm:
                shortFree += 1
                falseAlarms += 1
            case .clean:
                shortFree += 1
            }
        }
    }

    var detectionRate: Double? { shorted > 0 ? Double(detected) / Double(shorted) : nil }

    /// The acceptance figures: at least 95 % detected, nothing stopped before its onset, no false alarm, median
    /// latency of at most three samples.
    var meetsAcceptance: Bool {
        (detectionRate ?? 1) >= 0.95 && early == 0 && falseAlarms == 0 && (percentile(samples, 0.5) ?? 0) <= 3
    }

    /// The same with the median latency counted in judged windows (differs from ``meetsAcceptance`` only where runs
    /// sampled faster than once a second are included).
    var meetsOnWindows: Bool {
        (detectionRate ?? 1) >= 0.95 && early == 0 && falseAlarms == 0 && (percentile(windows, 0.5) ?? 0) <= 3
    }
}

func printTable(_ scores: [RunScore], candidates: [Candidate], title: String) {
    print(title)
    print(
        pad("criterion", 40) + pad("detected", 14) + pad("before onset", 13) + pad("false alarms", 13)
            + pad("samples med/p95", 17) + pad("windows med/p95", 17) + pad("seconds med/p95", 18)
            + pad("uAh/cm2 med/p95", 18) + "meets (samples / windows)")
    for (index, candidate) in candidates.enumerated() {
        let tally = Tally(scores, candidate: index)
        let rate = tally.detectionRate.map { " (\(cell($0 * 100, 3))%)" } ?? ""
        print(
            pad(candidate.label, 40) + pad("\(tally.detected)/\(tally.shorted)\(rate)", 14)
                + pad("\(tally.early)", 13) + pad("\(tally.falseAlarms)/\(tally.shortFree)", 13)
                + pad("\(cell(percentile(tally.samples, 0.5))) / \(cell(percentile(tally.samples, 0.95)))", 17)
                + pad("\(cell(percentile(tally.windows, 0.5))) / \(cell(percentile(tally.windows, 0.95)))", 17)
                + pad("\(cell(percentile(tally.seconds, 0.5))) / \(cell(percentile(tally.seconds, 0.95)))", 18)
                + pad("\(cell(percentile(tally.charges, 0.5))) / \(cell(percentile(tally.charges, 0.95)))", 18)
                + (candidate.judged ? meets(tally) : ""))
    }
}

/// Per-sampling-interval figures of a family, one line per candidate and interval.
func printIntervalTable(_ scores: [RunScore], candidates: [Candidate], title: String) {
    print(title)
    print(
        pad("criterion", 40) + pad("dt", 6) + pad("detected", 14) + pad("before onset", 13) + pad("false alarms", 13)
            + pad("samples med/p95", 17) + pad("windows med/p95", 17) + pad("seconds med/p95", 18)
            + pad("uAh/cm2 med/p95", 18) + "meets (samples / windows)")
    for (index, candidate) in candidates.enumerated() {
        for interval in benchIntervals {
            let tally = Tally(scores.filter { $0.scenario.interval_s == interval }, candidate: index)
            let rate = tally.detectionRate.map { " (\(cell($0 * 100, 3))%)" } ?? ""
            print(
                pad(candidate.label, 40) + pad(formatNumber(interval), 6)
                    + pad("\(tally.detected)/\(tally.shorted)\(rate)", 14) + pad("\(tally.early)", 13)
                    + pad("\(tally.falseAlarms)/\(tally.shortFree)", 13)
                    + pad("\(cell(percentile(tally.samples, 0.5))) / \(cell(percentile(tally.samples, 0.95)))", 17)
                    + pad("\(cell(percentile(tally.windows, 0.5))) / \(cell(percentile(tally.windows, 0.95)))", 17)
                    + pad("\(cell(percentile(tally.seconds, 0.5))) / \(cell(percentile(tally.seconds, 0.95)))", 18)
                    + pad("\(cell(percentile(tally.charges, 0.5))) / \(cell(percentile(tally.charges, 0.95)))", 18)
                    + (candidate.judged ? meets(tally) : ""))
        }
    }
}

func printExplanations(_ scores: [RunScore], candidates: [Candidate], labels: [String]) {
    for score in scores {
        for (index, candidate) in candidates.enumerated()
        where labels.contains(where: { candidate.label.hasPrefix($0) }) {
            let what: String
            switch score.outcomes[index] {
            case .early: what = "stopped before the onset at \(cell(score.onset_s, 6)) s"
            case .falseAlarm: what = "false alarm"
            case .missed: what = "missed the short at \(cell(score.onset_s, 6)) s"
            default: continue
            }
            let verdict = score.stops[index]
            let evidence = (verdict?.evidence ?? [:]).keys.sorted().map {
                "\($0)=\(formatNumber(verdict!.evidence[$0]!, significantDigits: 4))"
            }
            print(
                "  \(candidate.label): \(score.scenario.label): \(what)"
                    + (verdict.map { " at t=\(cell($0.time_s, 7)) s: \($0.reason) " + evidence.joined(separator: " ") }
                        ?? ""))
        }
    }
}

/// `yes` or `NO` for the acceptance figures with the latency in samples, then in judged windows.
func meets(_ tally: Tally) -> String {
    (tally.meetsAcceptance ? "yes" : "NO") + " / " + (tally.meetsOnWindows ? "yes" : "NO")
}
