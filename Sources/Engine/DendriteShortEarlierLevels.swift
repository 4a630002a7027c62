import Domain

// The tests of ``DendriteShortCriterion`` that compare |V| with a level it had earlier, not with a prediction.
extension DendriteShortCriterion {
    /// The total-fall test (|V| has lost a large share of the step's settled level, or of an earlier step's at a
    /// similar current) and the noise-jump test, each once it has held for long enough in a row.
    mutating func judgeFallFromEarlierLevels(
        context: StepContext, enoughSamples: Bool, wander_V: Double, floor_V: Double, minimumFall_V: Double
    ) -> (totalFall: Bool, noiseJump: Bool) {
        // Total fall from the settled level: needs only the step to have settled. Against an earlier step's settled
        // level, once this step's first seconds are past, the fall must be larger (the start of a step may still lie
        // below its own level, and the two steps' currents differ a little).
        let significantFall_V = max(tuning.totalFallSignificance * wander_V, minimumFall_V)
        var totalFallNow =
            enoughSamples && level.isSettled && level.fall >= tuning.totalFall && level.fall_V >= significantFall_V
        if !totalFallNow, enoughSamples, context.elapsed_s >= tuning.settle_s, let reference = crossReference_V,
            let smoothed = level.smoothed_V
        {
            totalFallNow =
                smoothed <= reference * (1 - tuning.crossStepFall) && reference - smoothed >= significantFall_V
        }
        totalFallRun = totalFallNow ? totalFallRun + 1 : 0
        // Noise jump: a contact making and breaking makes |V| flicker from sample to sample far more than the same
        // cell did at the end of an earlier step at a similar current, while |V| lies below that step's end.
        var noiseJumpNow = false
        if !judgesWindows, enoughSamples, context.elapsed_s >= tuning.noiseJumpSettle_s,
            let reference = crossReference_V,
            let before = crossWhiteNoise_V, let white = level.whiteNoise_V
        {
            let latestMean = mean(recent.latest(8))
            noiseJumpNow =
                white >= tuning.noiseJumpFactor * max(before, floor_V)
                && reference - latestMean >= max(tuning.noiseJumpFall * reference, minimumFall_V)
        }
        noiseJumpRun = noiseJumpNow ? noiseJumpRun + 1 : 0
        return (totalFallRun >= 2, noiseJumpRun >= tuning.oneSidedSamples)
    }

    /// The noise-rise test: a contact making and breaking makes |V| flicker from sample to sample far more than it
    /// did earlier in the same step (its largest white noise over its first judged samples), while the mean of
    /// the latest samples lies below the step's level then. Glitches and bursts touch too few of the changes to move
    /// their robust spread; a trend or a relaxation moves the changes' median, not their spread.
    mutating func judgeNoiseRise(determined: Bool, floor_V: Double, minimumFall_V: Double) -> Bool {
        guard tuning.noiseRiseFactor > 0, !judgesWindows, determined, let white = level.whiteNoise_V else {
            noiseRiseRun = 0
            return false
        }
        determinedInStep += 1
        // The quiet noise is the largest estimate over the step's first judged samples: one estimate from 31 changes
        // can come out low by a fifth or more, and a rise is judged only against the whole quiet stretch.
        if determinedInStep <= tuning.noiseRiseQuietSamples {
            if determinedInStep >= tuning.noiseRiseQuietSamples / 3 {
                quietWhiteNoise_V = max(quietWhiteNoise_V ?? 0, white)
                quietLevel_V = median(recent.latest(16))
            }
            return false
        }
        guard let quiet = quietWhiteNoise_V, let quietLevel = quietLevel_V else { return false }
        let latestMean = mean(recent.latest(8))
        let risen =
            white >= tuning.noiseRiseFactor * max(quiet, floor_V)
            && quietLevel - latestMean >= max(tuning.noiseJumpFall * quietLevel, minimumFall_V)
        noiseRiseRun = risen ? noiseRiseRun + 1 : 0
        return noiseRiseRun >= tuning.oneSidedSamples
    }
}
