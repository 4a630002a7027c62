import Domain

// The level test of ``DendriteShortCriterion``: a one-sided CUSUM of the shortfall below the prediction.
extension DendriteShortCriterion {
    /// Samples in a row below the allowance the level test needs.
    var confirmationsNeeded: Int { tuning.confirmations + (spikesSeen > 0 ? 1 : 0) }

    /// Adds one judged sample's shortfall to the sum; true when the sum has passed its threshold with enough samples
    /// in a row below the allowance, |V| below where it was before the excursion began, the models having followed
    /// |V| before it, and (at fine sampling) an abrupt fall.
    mutating func judgeLevel(
        observed: Double, time_s: Double, residual: Double, expected_V: Double, prediction_V: Double, spread: Double,
        allowance_V: Double, minimumFall_V: Double, fine: Bool
    ) -> Bool {
        judgedInStep += 1
        let shortfall = -residual - allowance_V
        // The samples confirming a fall must show |V| staying down or going further down: a short's fall is
        // steady or deepens, a burst of glitches jumps about.
        if shortfall > 0, consecutiveBelow > 0, let previousBelow_V,
            observed > previousBelow_V + max(2 * spread, tuning.confirmationTolerance * (expected_V - observed))
        {
            consecutiveBelow = 0
        }
        consecutiveBelow = shortfall > 0 ? consecutiveBelow + 1 : 0
        previousBelow_V = shortfall > 0 ? observed : nil
        let wasZero = cusum == 0
        cusum = max(0, cusum + min(max(shortfall / spread, -tuning.clip), tuning.clip))
        if cusum == 0 {
            lastZeroTime_s = time_s
            anchor_V = prediction_V
            levelExcursion = 0
        } else {
            if wasZero {
                beforeLevelExcursion = recent.latest(tuning.levelWindow, skipping: 1)
                judgedBeforeExcursion = judgedInStep - 1
                let prior = recentResiduals.latest(tuning.levelWindow, skipping: 1)
                residualBeforeExcursion = prior.count >= tuning.minimumStepSamples ? median(prior) : 0
            }
            levelExcursion += 1
        }
        latest?.cusum = cusum
        latest?.judged = true
        let tripped =
            cusum >= tuning.threshold && consecutiveBelow >= confirmationsNeeded
            && residualBeforeExcursion >= -tuning.allowance && samplesSinceFarAbove > levelExcursion + 1
            && (!fine || expected_V - observed >= tuning.fineLevelFall * expected_V)
            && fellBelowEarlierLevel(
                before: beforeLevelExcursion, excursion: levelExcursion, by: max(allowance_V, minimumFall_V))
            && !mayBeOvershoot(margin: max(allowance_V, minimumFall_V))
        // An excursion that has lasted this long without tripping is a slow bend of the relaxation (the models'
        // straight-line extrapolation overshooting a turn), not a sudden fall; slow falls are the total-fall
        // test's. The sum starts afresh from here.
        if !tripped, levelExcursion >= tuning.levelExcursionLimit {
            cusum = 0
            levelExcursion = 0
            lastZeroTime_s = time_s
            anchor_V = prediction_V
        }
        return tripped
    }

    /// Whether |V| now lies below its level before an excursion began by more than `margin`: the median of the
    /// latest k samples against that of the k samples before the excursion, k as many as both sides have (at most
    /// ``ShortDetectionTuning/levelWindow``). A rise that levels off is below its extrapolation but not below where
    /// it was.
    func fellBelowEarlierLevel(before: [Double], excursion: Int, by margin: Double) -> Bool {
        let count = min(before.count, excursion, tuning.levelWindow)
        guard count > 0 else { return true }
        return median(before.suffix(count)) - median(recent.latest(count)) > margin
    }

    /// Whether a level-test fall may be a relaxation falling back after an overshoot: the step has not settled, the
    /// judged samples before the excursion rose (their newer half above their older half by more than `margin`), and
    /// |V| has not gone below the lowest of them. A short falls below where the step has been; a contact's flicker,
    /// whose dips are among the samples before, shows no rise.
    func mayBeOvershoot(margin: Double) -> Bool {
        guard !level.isSettled else { return false }
        let judged = beforeLevelExcursion.suffix(
            min(beforeLevelExcursion.count, judgedBeforeExcursion, tuning.unsettledLowSamples))
        guard judged.count >= 2 * tuning.minimumStepSamples, let lowest = judged.min() else { return false }
        let half = judged.count / 2
        let rise = median(judged.suffix(half)) - median(judged.prefix(half))
        let count = min(levelExcursion, tuning.levelWindow)
        return rise > margin && median(recent.latest(max(count, 1))) >= lowest
    }
}
