import Domain
import Foundation

/// Dendrite short while plating, found by eight tests on |V| of every watched step; any one stops the run.
///
/// - **level**: a bank of ``TransientTrendModel``s (level, trend and two decaying transients with time constants from
///   0.5 s to 32 s) predicts the next |V|; the model in use is the one that has predicted best so far in the run. The
///   shortfall of each sample below the prediction, less an allowance, is standardised by a robust noise estimate
///   (floored at the reading's resolution) and the prediction's own uncertainty and summed in a one-sided CUSUM. It
///   trips on the second (or later) consecutive sample below the allowance, the third once the run has shown an
///   isolated spike, and only when |V| also lies below its level before the shortfall began: a rise that levels off
///   falls short of its extrapolation but is not a fall. Samples far off teach the models only a clipped amount.
/// - **increment**: at fine sampling, a CUSUM of how far each change of |V| falls below the step's median change, in
///   units of the changes' spread, with three falls in a row.
/// - **total fall**: once the step has settled (``SettledLevel``), |V| has lost ``ShortDetectionTuning/totalFall``
///   of the settled level and far more than its wander, so a collapse towards 0 V is found however slowly it comes.
/// - **drops**: repeated drops far below the prediction with no upward excursion among them, after which |V| has not
///   come back to its level before the first (a soft short's drops and partial recoveries).
/// - **one-sided noise**, **noise jump** and **noise rise**: a contact making and breaking makes the residuals' lower
///   tail long and the upper one short, or the sample-to-sample noise far larger than at an earlier step's end or
///   earlier in the same step, with |V| below where it was.
/// - **fast fall** (fine sampling): three samples in a row far below the median of the samples just before them,
///   holding together (``FastFallTest``): an abrupt or soft short found in two or three samples.
///
/// Sampled every ``ShortDetectionTuning/aggregationWindow_s``/4 or faster, a second instance of the criterion judges
/// means over windows of ``ShortDetectionTuning/aggregationWindow_s`` (so 0.1 s sampling is judged as 1 s sampling is,
/// besides its own samples); the drops and one-sided noise tests then judge only the means, and the level test on
/// single samples needs a fall of ``ShortDetectionTuning/fineLevelFall``. The first watched step in each direction
/// (the electrode's first nucleation) is judged only once it has settled. No test judges a step before it has
/// ``ShortDetectionTuning/minimumStepSamples`` samples. The onset is where the
/// tripping test's evidence began; the CCD is the step's current density. Constants are in
/// ``ShortDetectionTuning``.
///
/// This file holds the state and the order of the tests per sample; the prediction is ``TransientPredictor``
/// (DendriteShortPrediction.swift), the level test DendriteShortLevelTest.swift, the total-fall and noise-jump tests
/// DendriteShortEarlierLevels.swift, the increment, drop and noise tests DendriteShortResidualTests.swift, the
/// fast-fall test DendriteShortFastFall.swift, the window means DendriteShortWindows.swift, the settings and
/// diagnostics DendriteShortSettings.swift and the stop's wording and evidence DendriteShortVerdict.swift.
public struct DendriteShortCriterion: StopCriterion {
    /// Which test stopped the run, as stored in the evidence (`test`).
    public enum Test: Int, Sendable {
        case level = 1
        case increment = 2
        case totalFall = 3
        case drops = 4
        case oneSidedNoise = 5
        case noiseJump = 6
        case noiseRise = 7
        case fastFall = 8
    }

    public let name = "dendrite-short"
    public let detectsShort = true
    public let settings: Settings
    public let tuning: ShortDetectionTuning

    var predictor: TransientPredictor
    var noise = RobustScale(capacity: 31)
    var slowNoise = SlowNoise()
    var resolution: ReadingResolution
    var level: SettledLevel
    var watching = false
    var cusum = 0.0
    var consecutiveBelow = 0
    var watchedSteps = 0
    var lastZeroTime_s: Double?
    /// The prediction at the last sample the sum was zero after: a fall is judged against the lower of it and the
    /// current prediction, so a rise that levels off (a plateau under a rising trend) is not a fall.
    var anchor_V: Double?
    /// Isolated outliers seen in the run (a sample far off, the next one back): the instrument spikes, so two
    /// spikes in a row are possible and a fall must outlast them.
    var spikesSeen = 0
    var previousStandardised: Double?
    /// The step's latest |V|, and snapshots of those before each test's excursion began: a stop needs |V| to have
    /// fallen below where it was before, not only below an extrapolated trend.
    var recent: RecentValues
    var beforeLevelExcursion: [Double] = []
    /// Samples of the step the level test has judged, in all and before its present excursion began.
    var judgedInStep = 0
    var judgedBeforeExcursion = 0
    /// The latest standardised residuals against the active model (judged or not), and their median over the
    /// ``ShortDetectionTuning/levelWindow`` samples before the level test's excursion began: a level-test stop needs
    /// the models to have followed |V| before it (a model lagging a slow relaxation misses on one side all along).
    var recentResiduals: RecentValues
    var residualBeforeExcursion = 0.0
    var levelExcursion = 0
    var previousTime_s: Double?
    var interval_s = 1.0
    var increments: IncrementTest
    var drops: DropTest
    var oneSided = OneSidedNoise()
    var totalFallRun = 0
    /// Settled |V| at the end of earlier watched steps, with their current density and direction.
    var settledEnds: [(density_mA_cm2: Double, platesWE: Bool, level_V: Double, whiteNoise_V: Double?)] = []
    var stepDensity_mA_cm2 = 0.0
    var stepPlatesWE = true
    var crossReference_V: Double?
    /// The white noise at the end of that step, and samples in a row the noise-jump test has held.
    var crossWhiteNoise_V: Double?
    var noiseJumpRun = 0
    /// The step's white noise and |V| once it had been judged for a while, samples judged so far, and samples in a
    /// row the noise-rise test has held.
    var quietWhiteNoise_V: Double?
    var quietLevel_V: Double?
    var determinedInStep = 0
    var noiseRiseRun = 0
    var fastFall: FastFallTest
    var stepElapsed_s = 0.0
    var samplesSinceFarAbove = Int.max / 2
    /// |V| of the latest sample below the allowance, while such samples come in a row.
    var previousBelow_V: Double?
    var warnedInStep = false
    /// Watched steps seen so far in each direction (plating the WE, stripping it): the first in each direction is
    /// where the electrode's first nucleation and the longest relaxations are.
    var stepsPlatingWE = 0
    var stepsStrippingWE = 0
    var firstInDirection = true
    /// At fine sampling, the same tests judged on means over windows of about
    /// ``ShortDetectionTuning/aggregationWindow_s`` (at most one element; empty in the windowed criterion itself).
    var windowed: [DendriteShortCriterion] = []
    var windowMean = WindowMean()
    /// Whether this criterion judges window means for an outer one (it then keeps no windowed criterion itself).
    let judgesWindows: Bool
    /// The outer criterion's reading resolution, which the windowed one assumes: a mean of readings a step apart is
    /// not read finer than they are.
    var outerResolution_V: Double?
    /// What the criterion made of the latest watched sample, for status displays and diagnostics.
    public internal(set) var latest: Diagnostics?

    public init(settings: Settings, tuning: ShortDetectionTuning = .standard) {
        self.init(settings: settings, tuning: tuning, judgesWindows: false)
    }

    private init(settings: Settings, tuning: ShortDetectionTuning, judgesWindows: Bool) {
        self.settings = settings
        self.tuning = tuning
        self.judgesWindows = judgesWindows
        predictor = TransientPredictor(tuning: tuning)
        resolution = ReadingResolution(given_V: settings.voltageResolution_V)
        level = SettledLevel(tuning: tuning)
        recent = RecentValues(capacity: tuning.levelWindow + 1)
        recentResiduals = RecentValues(capacity: tuning.levelWindow + 1)
        increments = IncrementTest(tuning: tuning)
        drops = DropTest(tuning: tuning)
        fastFall = FastFallTest(tuning: tuning)
        if !judgesWindows {
            windowed = [DendriteShortCriterion(settings: settings, tuning: tuning, judgesWindows: true)]
        }
    }

    public mutating func stepStarted(_ context: StepContext) {
        // A step that did not settle (too short for its noise or resolution to show a rate) lends the median of its
        // last samples, once it has run as long as a step must before it can settle.
        if watching,
            let end = level.isSettled
                ? level.reference_V
                : stepElapsed_s >= tuning.minimumSettling_s && recent.count >= tuning.minimumStepSamples
                    ? median(recent.latest(tuning.levelWindow)) : nil
        {
            settledEnds.append((stepDensity_mA_cm2, stepPlatesWE, end, level.whiteNoise_V))
            if settledEnds.count > 8 { settledEnds.removeFirst() }
        }
        stepElapsed_s = 0
        stepDensity_mA_cm2 = context.step.currentDensity_mA_cm2
        stepPlatesWE = context.step.current_A < 0
        // The latest settled end of a step at a similar current in the same direction: a step that starts already
        // collapsed (a short that began while it was not watched, or before it settled) is judged against it.
        let factor = tuning.referenceCurrentFactor
        let similar = settledEnds.last {
            $0.platesWE == stepPlatesWE && $0.density_mA_cm2 <= stepDensity_mA_cm2 * factor
                && $0.density_mA_cm2 * factor >= stepDensity_mA_cm2
        }
        crossReference_V = similar?.level_V
        crossWhiteNoise_V = similar?.whiteNoise_V
        noiseJumpRun = 0
        quietWhiteNoise_V = nil
        quietLevel_V = nil
        determinedInStep = 0
        noiseRiseRun = 0
        fastFall.reset()
        watching = settings.during.watches(context.step)
        cusum = 0
        consecutiveBelow = 0
        lastZeroTime_s = context.startTime_s
        anchor_V = nil
        previousStandardised = nil
        recent.removeAll()
        beforeLevelExcursion.removeAll()
        judgedInStep = 0
        judgedBeforeExcursion = 0
        recentResiduals.removeAll()
        residualBeforeExcursion = 0
        levelExcursion = 0
        previousTime_s = context.startTime_s
        increments.reset(at: context.startTime_s)
        drops.reset()
        oneSided.reset()
        totalFallRun = 0
        samplesSinceFarAbove = Int.max / 2
        previousBelow_V = nil
        warnedInStep = false
        resolution.stepStarted()
        level.reset(stepStart_s: context.startTime_s)
        guard watching else { return }
        watchedSteps += 1
        if stepPlatesWE { stepsPlatingWE += 1 } else { stepsStrippingWE += 1 }
        firstInDirection = (stepPlatesWE ? stepsPlatingWE : stepsStrippingWE) == 1
        increments.pastFirstStep = !firstInDirection
        windowMean.reset()
        for index in windowed.indices { windowed[index].stepStarted(context) }
        predictor.stepStarted(at: context.startTime_s, trendScale_s: effectiveMemory_s)
    }

    var effectiveMemory_s: Double { max(settings.memory_s, 20 * interval_s) }

    public mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        guard watching else { return nil }
        guard sample.voltage_V.isFinite, sample.time_s.isFinite else { return cannotJudge(sample, context: context) }
        if let previousTime_s, sample.time_s > previousTime_s { interval_s = sample.time_s - previousTime_s }
        previousTime_s = sample.time_s
        stepElapsed_s = context.elapsed_s
        let observed = abs(sample.voltage_V)
        resolution.add(sample.voltage_V)
        let step_V = outerResolution_V ?? resolution.value_V
        let fine = !judgesWindows && interval_s * 4 <= tuning.aggregationWindow_s
        let windowVerdict = fine ? judgeWindow(sample, context: context, resolution_V: step_V) : nil
        let floor = max(settings.noiseFloor_V, tuning.resolutionNoiseShare * step_V)
        recent.add(observed)
        level.add(time_s: sample.time_s, magnitude: observed, interval_s: interval_s, resolution_V: step_V)
        let minimumFall_V = max(
            settings.minimumDrop_V, tuning.resolutionSteps * step_V,
            (judgesWindows ? tuning.windowedMinimumFall : tuning.relativeMinimumFall) * (level.smoothed_V ?? observed))
        // The noise is the residuals' robust spread (a model's lag in a transient counts), but at most a few times
        // the white noise of the sample-to-sample changes: a steady fall that the models lag behind is a fall, not
        // noise.
        let residualNoise = noise.scaleAboutZero
        var knownNoise = residualNoise
        if let residualNoise, let white = level.whiteNoise_V {
            knownNoise = min(residualNoise, tuning.lagNoiseCap * max(white, floor))
        }
        let noiseLevel = max(floor, knownNoise ?? floor)
        // The models are taught with the residuals' own spread, lag included, so they can follow a transient back.
        let teachingNoise = max(floor, residualNoise ?? floor)
        let enoughSamples = context.sampleCount >= tuning.minimumStepSamples

        let (prediction, disagreement_V) = predictor.predictAndTeach(
            observed, at: sample.time_s, noiseLevel: teachingNoise, memory_s: effectiveMemory_s,
            watchedSteps: watchedSteps)
        guard let prediction else {
            _ = increments.judge(observed, time_s: sample.time_s, context: context, floor: floor, recent: recent)
            return windowVerdict
        }
        // Judge once the noise is known and the step's first seconds are past (the spread then carries the models'
        // own uncertainty): a current change's transient (nucleation of hundreds of mV, relaxation) cannot be told
        // from a fall by a model fitted to a few seconds. In the run's first watched step, whose time constants are
        // not yet chosen, only once the model is determined and its first minute is over.
        let determined =
            enoughSamples
            && (firstInDirection
                ? prediction.leverage <= 1 && context.elapsed_s >= tuning.firstStepSettle_s && level.isSettled
                : context.elapsed_s >= (judgesWindows ? tuning.windowedSettle_s : tuning.settle_s))
        let modelSpread = noiseLevel * (1 + prediction.leverage).squareRoot()
        let spread = (modelSpread * modelSpread + disagreement_V * disagreement_V).squareRoot()
        // Coloured noise keeps residuals on one side for many samples: the allowance covers the spread of their
        // block means too, while a fall far beyond it still counts in full (the sum is in spreads).
        let allowance_V = max(
            tuning.allowance * spread, minimumFall_V / 2, tuning.slowNoiseAllowance * (slowNoise.blockSpread_V ?? 0))
        let expected_V = cusum > 0 ? min(prediction.value, anchor_V ?? prediction.value) : prediction.value
        let residual = observed - expected_V
        let incrementTripped =
            increments.judge(observed, time_s: sample.time_s, context: context, floor: floor, recent: recent)
            && enoughSamples && -residual > allowance_V
            && fellBelowEarlierLevel(
                before: increments.beforeExcursion, excursion: increments.excursion, by: max(allowance_V, minimumFall_V)
            )
        // Once the step has settled the noise estimate does not learn the samples that are building up a
        // shortfall, or a slow fall would inflate it and hide itself; earlier, the misfit of the step's start counts.
        let modelResidual = observed - prediction.value
        if cusum == 0 || -residual <= allowance_V || context.elapsed_s < tuning.settle_s {
            noise.add(modelResidual / (1 + prediction.leverage).squareRoot())
            if determined { slowNoise.add(modelResidual) }
        }
        recentResiduals.add(modelResidual / spread)
        latest = Diagnostics(
            time_s: sample.time_s, observed_V: observed, expected_V: expected_V, spread_V: spread,
            allowance_V: allowance_V, cusum: cusum, incrementSum: increments.sum, judged: false, noise_V: noiseLevel,
            disagreement_V: disagreement_V, resolution_V: step_V, settled_V: level.reference_V, fall: level.fall)

        let wander = max(level.wander_V ?? noiseLevel, noiseLevel / 2, floor)
        let (totalFallTripped, noiseJumpTripped) = judgeFallFromEarlierLevels(
            context: context, enoughSamples: enoughSamples, wander_V: wander, floor_V: floor,
            minimumFall_V: minimumFall_V)
        let noiseRiseTripped = judgeNoiseRise(determined: determined, floor_V: floor, minimumFall_V: minimumFall_V)

        guard knownNoise != nil,
            determined || incrementTripped || totalFallTripped || noiseJumpTripped || noiseRiseTripped
        else {
            // Not yet judged: the sum is zero here, so a fall found later began after this sample.
            if cusum == 0 {
                anchor_V = prediction.value
                lastZeroTime_s = sample.time_s
            }
            return windowVerdict
        }

        // An isolated outlier (far off, the next sample back within the teaching clip) once the step has settled
        // is a spike of the instrument.
        let standardised = modelResidual / spread
        if context.elapsed_s >= tuning.settle_s, let previous = previousStandardised, abs(previous) > tuning.clip,
            abs(standardised) < tuning.teachingClip
        {
            spikesSeen += 1
        }
        previousStandardised = standardised
        // A sample far above the prediction is a disturbance of the readings (a short only ever lowers |V|): a fall
        // that began with or right after one is the same disturbance going the other way.
        samplesSinceFarAbove = standardised > tuning.clip ? 0 : samplesSinceFarAbove + 1

        var levelTripped = false
        var dropsTripped = false
        var oneSidedTripped = false
        var fastFallTripped = false
        if determined {
            fastFallTripped =
                fine
                && fastFall.judge(
                    observed, time_s: sample.time_s, recent: recent,
                    minimumFall_V: max(minimumFall_V, tuning.fastFallNoise * noiseLevel))
                && samplesSinceFarAbove > fastFall.run + 1
            levelTripped = judgeLevel(
                observed: observed, time_s: sample.time_s, residual: residual, expected_V: expected_V,
                prediction_V: prediction.value, spread: spread, allowance_V: allowance_V, minimumFall_V: minimumFall_V,
                fine: fine)
            // The drops must have left |V| (smoothed, so the drops themselves do not count) below the settled
            // level, which follows a healthy relaxation down.
            drops.add(standardised: residual / spread, time_s: sample.time_s)
            dropsTripped =
                !fine && drops.isTripped && level.isSettled
                && level.fall_V >= max(allowance_V, minimumFall_V, tuning.dropFallSignificance * wander)
            // Flicker pulls the mean of the latest samples below the settled level; a trend the models overshoot
            // (a rise that levels off) does not.
            oneSidedTripped =
                !fine
                && oneSided.add(
                    residual, time_s: sample.time_s, ratio: tuning.oneSidedRatio,
                    minimum: max(allowance_V, minimumFall_V),
                    upperFloor: tuning.oneSidedUpperFloor * noiseLevel, samplesNeeded: tuning.oneSidedSamples)
                && level.isSettled && (level.reference_V ?? 0) - mean(recent.latest(8)) >= minimumFall_V / 2
        }
        let test: Test
        if fastFallTripped {
            test = .fastFall
        } else if levelTripped {
            test = .level
        } else if incrementTripped {
            test = .increment
        } else if totalFallTripped {
            test = .totalFall
        } else if dropsTripped {
            test = .drops
        } else if oneSidedTripped {
            test = .oneSidedNoise
        } else if noiseJumpTripped {
            test = .noiseJump
        } else if noiseRiseTripped {
            test = .noiseRise
        } else {
            return windowVerdict
        }
        return verdict(
            test, sample: sample, context: context, observed: observed, expected_V: expected_V, prediction: prediction,
            noiseLevel: noiseLevel, allowance_V: allowance_V, resolution_V: step_V)
    }
}
