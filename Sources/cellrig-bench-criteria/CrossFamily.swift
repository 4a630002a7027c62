import Domain
import Engine
import Foundation

/// Sensitivities the cross-family table calibrates over: ``ShortDetectionTuning/scaled(by:)`` factors (below 1 more
/// sensitive, above 1 less). 1 is the shipped tuning.
let tuningFactors: [Double] = [0.7, 1.0, 1.4]

/// The short criteria as the shipped protocols declare them (`dendrite-short` and `hard-short`, defaults), with the
/// tuning scaled by `factor`.
func tunedCandidate(_ factor: Double) -> Candidate {
    Candidate(label: "short criteria, tuning x\(formatNumber(factor))", judged: false) { scenario, _ in
        let tuning = ShortDetectionTuning.standard.scaled(by: factor)
        let watch = PlatingWatch(rawValue: scenario.schedule.watch) ?? .plate
        let dendrite = try CriterionFactory.make(
            try declaration("dendrite-short: {during: \(scenario.schedule.watch)}"))
        guard let shipped = dendrite as? DendriteShortCriterion else { return [dendrite] }
        return [
            DendriteShortCriterion(settings: shipped.settings, tuning: tuning),
            HardShortCriterion(
                during: watch, electrolyteResistance_Ohm_cm2: nil, threshold_Ohm_cm2: nil, tuning: tuning),
        ]
    }
}

/// How well a tally meets the acceptance figures, lower is better: misses, early stops and false alarms weigh alike;
/// the median latency breaks ties.
func badness(_ tally: Tally) -> (Int, Double) {
    (tally.shorted - tally.detected + tally.falseAlarms, percentile(tally.samples, 0.5) ?? .infinity)
}

/// For each family: the tuning factor that scores best on it, and that tuning's figures on every family (the others
/// held out: it was not chosen on them).
func printCrossFamily(_ scores: [RunScore], candidates: [Candidate], families: [BenchFamily]) {
    let tuned = candidates.indices.filter { candidates[$0].label.hasPrefix("short criteria, tuning x") }
    guard !tuned.isEmpty, families.count > 1 else { return }
    print("Cross-family: tune on one family (the factor of ShortDetectionTuning.scaled(by:) among ")
    print(
        "  \(tuningFactors.map { formatNumber($0) }.joined(separator: ", ")) with the fewest misses, early stops and "
            + "false alarms, then the lowest median latency), report it on the others")
    print(
        pad("tuned on", 11) + pad("factor", 8) + pad("scored on", 12) + pad("detected", 14) + pad("before onset", 13)
            + pad("false alarms", 13) + pad("samples med/p95", 17) + pad("seconds med/p95", 18)
            + pad("uAh/cm2 med/p95", 18) + "meets")
    for tuningFamily in families {
        let own = scores.filter { $0.scenario.family == tuningFamily }
        guard
            let best = tuned.min(by: { badness(Tally(own, candidate: $0)) < badness(Tally(own, candidate: $1)) })
        else { continue }
        for family in families {
            let tally = Tally(scores.filter { $0.scenario.family == family }, candidate: best)
            let rate = tally.detectionRate.map { " (\(cell($0 * 100, 3))%)" } ?? ""
            print(
                pad(tuningFamily.rawValue, 11)
                    + pad(
                        candidates[best].label.replacingOccurrences(
                            of: "short criteria, tuning ", with: ""), 8)
                    + pad(family == tuningFamily ? family.rawValue : "\(family.rawValue)*", 12)
                    + pad("\(tally.detected)/\(tally.shorted)\(rate)", 14) + pad("\(tally.early)", 13)
                    + pad("\(tally.falseAlarms)/\(tally.shortFree)", 13)
                    + pad("\(cell(percentile(tally.samples, 0.5))) / \(cell(percentile(tally.samples, 0.95)))", 17)
                    + pad("\(cell(percentile(tally.seconds, 0.5))) / \(cell(percentile(tally.seconds, 0.95)))", 18)
                    + pad("\(cell(percentile(tally.charges, 0.5))) / \(cell(percentile(tally.charges, 0.95)))", 18)
                    + (tally.meetsAcceptance ? "yes" : "NO"))
        }
    }
    print("  * held out: the factor was not chosen on this family")
}
