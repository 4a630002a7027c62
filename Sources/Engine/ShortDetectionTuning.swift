/// Every constant the short criteria (`dendrite-short`, `hard-short`) use that a protocol does not set, with what it
/// is for. Protocol parameters (`min-drop`, `memory`, `noise-floor`, `below`, ...) say what a lab wants; these say how
/// the criteria tell a short from what a healthy cell does.
///
/// ``standard`` was set while scoring all three benchmark families (`TraceFamilies` and the physics simulator); to see
/// how much a tuning depends on the family it was set on, `make bench-criteria` chooses the level test's ``threshold``
/// and ``allowance`` from a small grid on each family and reports that choice on the others
/// (docs/adr/0010-criteria-benchmark-families.md). Units:
/// "spread" is the standardised residual (residual over its own noise and model uncertainty); times are cell seconds.
public struct ShortDetectionTuning: Sendable, Hashable {
    // MARK: Level test (CUSUM on the shortfall below the model's prediction)

    /// Shortfall below the prediction that adds nothing, in spreads.
    public var allowance = 1.5
    /// ... and in spreads of the residuals' means over blocks of eight samples (coloured noise).
    public var slowNoiseAllowance = 3.0
    /// Sum of standardised shortfalls that trips the level test.
    public var threshold = 16.0
    /// Most one sample adds to (or takes from) the sum, in spreads.
    public var clip = 8.0
    /// Residuals beyond this many spreads teach the models only this far, so a real fall is not learnt away.
    public var teachingClip = 4.0
    /// Samples below the prediction by more than the teaching clip teach nothing, this many in a row: a fall is
    /// confirmed against the models as they were before it.
    public var heldSamples = 3
    /// The noise is taken as at most this many times the white noise of the sample-to-sample changes: the models'
    /// lag behind a transient counts as noise, their lag behind a steady fall must not hide it.
    public var lagNoiseCap = 3.0
    /// The bank's disagreement is the median distance of this many best-scoring models from the active one, among
    /// those whose score (sum of squared standardised prediction errors) is within ``plausibleScoreFactor`` of the
    /// best one's plus ``plausibleScoreMargin``: models that have predicted the run badly are no uncertainty.
    public var plausibleModels = 5
    public var plausibleScoreFactor = 1.5
    public var plausibleScoreMargin = 25.0
    /// Samples below the allowance in a row the level test needs: this many, one more once the run has shown an
    /// isolated spike.
    public var confirmations = 2
    /// A confirming sample may lie above the previous one by at most this share of its shortfall (or two spreads):
    /// a short's fall holds or deepens, a burst of glitches jumps about.
    public var confirmationTolerance = 0.3
    /// Step time after which the models are judged even while their own uncertainty is above the noise, and the
    /// sample-to-sample changes are collected.
    public var settle_s = 30.0
    /// Step time before the level test judges the run's first watched step (no time constants learnt yet).
    public var firstStepSettle_s = 60.0
    /// Samples a step must have before any test judges it: a slope fitted to two or three samples after a current
    /// change is not known, and a glitch among them would look like a fall.
    public var minimumStepSamples = 6
    /// After this much step time, and this many forgetting times, the transients are gone and the bank's models agree;
    /// only the active one is updated from then on.
    public var bankHorizon_s = 320.0
    public var bankHorizonMemories = 5.0
    /// Most samples on either side of an excursion's start compared when a stop asks whether |V| really fell.
    public var levelWindow = 32
    /// Samples a level-test excursion may last before its sum starts afresh: a fall that takes longer to show is
    /// slow, and the total-fall test's.
    public var levelExcursionLimit = 50
    /// Before the step has settled, a level-test fall must also take |V| below the lowest of the latest judged samples
    /// before the excursion, this many at most (0: not asked): a relaxation that overshoots falls back by more than
    /// the noise, a short falls below where the step has been.
    public var unsettledLowSamples = 32

    // MARK: Fine sampling

    /// At sampling intervals of a quarter of this or less, every test is also judged on means over windows this long
    /// (the drop and one-sided noise tests only there): fine sampling is then judged as 1 s sampling is, and a burst
    /// of a few disturbed readings is one low mean rather than a tail of low samples.
    public var aggregationWindow_s = 1.0
    /// Step time before the window means are judged: they are far quieter than the samples, so the models' misfit of
    /// a step's first relaxation stands out more in them; the samples' own tests cover a step's first minutes.
    public var windowedSettle_s = 120.0
    /// At fine sampling the level test on single samples stops only for a fall of at least this share of |V| (an
    /// abrupt short); smaller falls are left to the window means, where a burst of disturbed readings averages out.
    public var fineLevelFall = 0.05
    /// The smallest fall that counts on window means, as a share of |V| (``relativeMinimumFall`` on samples): means
    /// are quiet enough to show the slow wander of coloured noise, which a short's fall far exceeds.
    public var windowedMinimumFall = 0.02

    /// The fast-fall test (fine sampling only): this many samples in a row at least ``fastFall`` of |V| (and the
    /// smallest fall that counts, and ``fastFallNoise`` noise) below the median of the ``fastFallWindow`` samples
    /// before the first of them, their range within ``fastFallAgreement`` of their smallest fall. 0 turns it off.
    public var fastFall = 0.1
    public var fastFallNoise = 8.0
    public var fastFallWindow = 16
    public var fastFallSamples = 3
    public var fastFallAgreement = 0.5

    // MARK: Increment test (fine sampling: a run of falls far beyond the sample-to-sample noise)

    public var incrementAllowance = 4.0
    public var incrementThreshold = 24.0
    public var incrementRunNeeded = 3

    // MARK: Reading resolution

    /// The noise assumed is at least this share of the reading's resolution (given by the driver or inferred as the
    /// smallest change between readings): a reading that moves by one step is not a fall.
    public var resolutionNoiseShare = 0.6
    /// A fall must exceed this many resolution steps, whatever the noise estimate.
    public var resolutionSteps = 3.0
    /// A fall must exceed this share of |V| (and the protocol's `min-drop`): a short makes a marked fall, while a
    /// contact's telegraph noise or a reference's wander moves |V| by a fraction of a percent.
    public var relativeMinimumFall = 0.01

    // MARK: Settled level and total fall

    /// Fastest relative fall of |V| (per second) a settled step may show: a step is settled once its smoothed |V|
    /// falls more slowly than this, and the settled level then follows |V| down no faster. Healthy relaxation
    /// (nucleation, diffusion, creep; any completely monotone decay) only slows down once below it, so it never
    /// counts as a fall; a short's fall is faster.
    public var settledFallRate_per_s = 0.02 / 60
    /// The window over which a step's rate of change is measured (its older and newer half separately): this long,
    /// or this many samples where they take longer.
    public var settlingWindow_s = 60.0
    public var settlingWindowSamples = 12
    /// Step time before a step can count as settled, whatever its rate.
    public var minimumSettling_s = 60.0
    /// Share of the settled level |V| must lose for the total-fall test.
    public var totalFall = 0.5
    /// A total fall must also exceed this many times the settled level's own wander and noise.
    public var totalFallSignificance = 6.0
    /// Share of the settled level of an earlier step at a similar current in the same direction that a step must have
    /// lost (after its first ``settle_s``) for the total-fall test, before it has settled itself.
    public var crossStepFall = 0.5

    // MARK: Drop test (a soft short: repeated drops with partial recovery)

    /// A drop is a sample this many spreads below the prediction; an upward excursion as far cancels the count.
    public var dropSize = 5.0
    /// Drops within ``dropWindow`` judged samples, with no upward excursion among them, that trip the test when |V|
    /// has also not come back to where it was before the first of them. A drop lasts at most ``dropLength`` samples
    /// and ends with |V| back within half a drop of the prediction; a longer fall is the level test's.
    public var dropsNeeded = 3
    public var dropWindow = 32
    public var dropLength = 3
    /// The net fall after the drops must exceed this many times the settled level's wander.
    public var dropFallSignificance = 3.0

    // MARK: One-sided noise test (a contact making and breaking: |V| flickers down, never up)

    /// The residuals' lower tail (median to 10th percentile) must be this many times the upper one (median to 90th),
    /// and at least the smallest fall that counts, for this many samples in a row.
    public var oneSidedRatio = 3.0
    public var oneSidedSamples = 5
    /// The upper tail counts as at least this share of the noise estimate (white noise makes it 1.3 noise): stuck or
    /// quantised readings can shrink it to nothing, and any small lower tail is then many times it.
    public var oneSidedUpperFloor = 0.6

    // MARK: Noise-jump test (a contact making and breaking: |V| flickers far more than it did)

    /// The white noise (of the sample-to-sample changes) must be this many times that at the end of an earlier step
    /// at a similar current in the same direction, and the mean of the latest samples this share (and the smallest
    /// fall that counts) below that step's end, for ``oneSidedSamples`` samples in a row.
    public var noiseJumpFactor = 10.0
    public var noiseJumpFall = 0.03
    /// Step time before the noise-jump test judges (on samples only, not on window means): a step's first minutes,
    /// when |V| still climbs from below the previous step's end and its changes follow the transient, are no jump.
    public var noiseJumpSettle_s = 120.0
    /// The healthy level the noise-jump test measures the fall from is the earlier step's end, or, where higher, this
    /// quantile of the latest ``flickerFreeSamples`` samples: a short's flicker only ever lowers |V|, so the samples
    /// between its dips show the healthy level (which rises with the current and through a step's relaxation).
    /// 0 takes the earlier step's end only.
    public var flickerFreeShare = 0.8
    public var flickerFreeSamples = 16

    // MARK: Noise-rise test (a contact making and breaking: |V| flickers far more than earlier in the step)

    /// The white noise must be this many times the largest the step showed over its first ``noiseRiseQuietSamples``
    /// judged samples (from a third of them on), and the mean of the latest samples ``noiseJumpFall`` (and the
    /// smallest fall that counts) below the step's |V| then, for ``oneSidedSamples`` samples in a row. Judged from the
    /// end of that stretch; 0 turns the test off.
    public var noiseRiseFactor = 4.0
    public var noiseRiseQuietSamples = 48

    // MARK: hard-short

    /// Share of the reference resistance below which a settled step counts as hard-shorted.
    public var hardShortFraction = 0.2
    /// Samples in a row (of the smoothed |V|) below the threshold.
    public var hardShortConfirmations = 2
    /// Earlier steps lend their settled apparent resistance as a reference only to steps whose current density is
    /// within this factor of theirs (kinetics make the apparent resistance fall as the current rises).
    public var referenceCurrentFactor = 1.5

    public init() {}

    /// The tuning shipped with cellrig.
    public static let standard = ShortDetectionTuning()
}
