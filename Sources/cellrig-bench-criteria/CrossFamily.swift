import Domain
import Engine
import Foundation

/// The grid the cross-family table tunes over: three values each of two of ``ShortDetectionTuning``'s constants, the
/// level test's CUSUM threshold and its allowance (the shortfall, in spreads, that adds nothing), the shipped values
/// in the middle. Every other constant keeps its shipped value.
let tuningGrid: [(threshold: Double, allowance: Double)] = [12.0, 16.0, 22.0].flatMap { threshold in
    [1.2, 1.5, 2.0].map { (threshold: threshold, allowance: $0) }
}

let tunedPrefix = "short criteria, tuned "

/// The short criteria as the shipped protocols declare them (`dendrite-short` and `hard-short`, defaults), with the
/// level test's threshold and allowance set to one point of the grid.
func tunedCandidate(_ point: (threshold: Double, allowance: Double)) -> Candidate {
    let label = tunedPrefix + "threshold \(formatNumber(point.threshold)), allowance \(formatNumber(point.allowance))"
    return Candidate(label: label, judged: false) { scenario, _ in
        var tuning = ShortDetectionTuning.standard
        tuning.threshold = point.threshold
        tuning.allowance = point.allowance
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

/// For each family: the grid point that scores best on it, and that tuning's figures on every family (the others
/// held out: it was not chosen on them).
func printCrossFamily(_ scores: [RunScore], candidates: [Candidate], families: [BenchFamily]) {
    let tuned = candidates.indices.filter { candidates[$0].label.hasPrefix(tunedPrefix) }
    guard !tuned.isEmpty, families.count > 1 else { return }
    print(
        "Cross-family: tune on one family (ShortDetectionTuning's level-test threshold in 12, 16, 22 and allowance in "
            + "1.2, 1.5, 2 spreads: the point with the fewest misses, early stops and false alarms, then the lowest "
            + "median latency), report it on the held-out families")
    print(
        pad("tuned on", 11) + pad("threshold/allowance", 21) + pad("scored on", 12) + pad("detected", 14)
            + pad("before onset", 13)
            + pad("false alarms", 13) + pad("samples med/p95", 17) + pad("seconds med/p95", 18)
            + pad("uAh/cm2 med/p95", 18) + "meets (samples / windows)")
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
                        "\(formatNumber(tuningGrid[best - tuned[0]].threshold)) / "
                            + "\(formatNumber(tuningGrid[best - tuned[0]].allowance))", 21)
                    + pad(family == tuningFamily ? family.rawValue : "\(family.rawValue)*", 12)
                    + pad("\(tally.detected)/\(tally.shorted)\(rate)", 14) + pad("\(tally.early)", 13)
                    + pad("\(tally.falseAlarms)/\(tally.shortFree)", 13)
                    + pad("\(cell(percentile(tally.samples, 0.5))) / \(cell(percentile(tally.samples, 0.95)))", 17)
                    + pad("\(cell(percentile(tally.seconds, 0.5))) / \(cell(percentile(tally.seconds, 0.95)))", 18)
                    + pad("\(cell(percentile(tally.charges, 0.5))) / \(cell(percentile(tally.charges, 0.95)))", 18)
                    + meets(tally))
        }
    }
    print("  * held out: the grid point was not chosen on this family")
}

/// `set=NAME=VALUE` (repeatable): an extra candidate, the short criteria with these of ``ShortDetectionTuning``'s
/// constants changed, for trying a change on every family without a rebuild. Unknown names stop the benchmark.
func tuningOverride(_ name: String) -> WritableKeyPath<ShortDetectionTuning, Double>? {
    switch name {
    case "threshold": \.threshold
    case "allowance": \.allowance
    case "fineLevelFall": \.fineLevelFall
    case "oneSidedRatio": \.oneSidedRatio
    case "oneSidedUpperFloor": \.oneSidedUpperFloor
    case "noiseRiseFactor": \.noiseRiseFactor
    case "noiseJumpFactor": \.noiseJumpFactor
    case "noiseJumpFall": \.noiseJumpFall
    case "flickerFreeShare": \.flickerFreeShare
    case "totalFall": \.totalFall
    case "crossStepFall": \.crossStepFall
    case "dropSize": \.dropSize
    case "fastFall": \.fastFall
    case "fastFallNoise": \.fastFallNoise
    case "fastFallAgreement": \.fastFallAgreement
    default: nil
    }
}

func tuningCountOverride(_ name: String) -> WritableKeyPath<ShortDetectionTuning, Int>? {
    switch name {
    case "unsettledLowSamples": \.unsettledLowSamples
    case "noiseRiseQuietSamples": \.noiseRiseQuietSamples
    case "fastFallSamples": \.fastFallSamples
    case "oneSidedSamples": \.oneSidedSamples
    case "confirmations": \.confirmations
    case "flickerFreeSamples": \.flickerFreeSamples
    default: nil
    }
}

func overriddenCandidate(_ settings: [String]) -> Candidate? {
    guard !settings.isEmpty else { return nil }
    var tuning = ShortDetectionTuning.standard
    for setting in settings {
        let parts = setting.split(separator: "=")
        if parts.count == 2, let keyPath = tuningCountOverride(String(parts[0])), let value = Int(parts[1]) {
            tuning[keyPath: keyPath] = value
            continue
        }
        guard parts.count == 2, let keyPath = tuningOverride(String(parts[0])), let value = Double(parts[1]) else {
            fatalError("set=\(setting): expected NAME=NUMBER, NAME a Double constant of ShortDetectionTuning")
        }
        tuning[keyPath: keyPath] = value
    }
    let fixed = tuning
    return Candidate(label: "dendrite-short, set " + settings.joined(separator: " "), judged: false) { scenario, _ in
        let dendrite = try CriterionFactory.make(
            try declaration("dendrite-short: {during: \(scenario.schedule.watch)}"))
        guard let shipped = dendrite as? DendriteShortCriterion else { return [dendrite] }
        return [DendriteShortCriterion(settings: shipped.settings, tuning: fixed)]
    }
}
