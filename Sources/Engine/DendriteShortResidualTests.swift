import Domain

/// The increment test of ``DendriteShortCriterion``, for fine sampling where the model's lag can exceed the fall of
/// one sample: once the step has settled, a CUSUM of how far each change of |V| falls below the median change of the
/// step, in units of the changes' own spread. One change adds at most half the threshold and the last three must all
/// be falls, so neither a single-sample spike (a fall and a rise) nor two downward spikes in a row trip it.
struct IncrementTest: Sendable {
    let tuning: ShortDetectionTuning
    private var changes = RobustScale(capacity: 31)
    private var previous_V: Double?
    private(set) var sum = 0.0
    private var run = 0
    /// The last sample at which the sum was zero (or the test did not judge): a fall it finds began after it.
    private(set) var startTime_s: Double?
    /// |V| before the sum's present excursion began, and the samples since.
    private(set) var beforeExcursion: [Double] = []
    private(set) var excursion = 0
    /// Whether the run's first watched step is over (the test waits for time constants learnt on it).
    var pastFirstStep = false

    init(tuning: ShortDetectionTuning) {
        self.tuning = tuning
    }

    mutating func reset(at time_s: Double) {
        changes.removeAll()
        previous_V = nil
        sum = 0
        run = 0
        startTime_s = time_s
        beforeExcursion.removeAll()
        excursion = 0
    }

    /// Takes the next |V|; true when the sum has passed its threshold with enough falls in a row.
    mutating func judge(
        _ observed: Double, time_s: Double, context: StepContext, floor: Double, recent: RecentValues
    ) -> Bool {
        defer { previous_V = observed }
        // The sum is zero while the test does not judge, so a fall it finds later began after this sample.
        guard let previous = previous_V, pastFirstStep, context.elapsed_s >= tuning.settle_s else {
            startTime_s = time_s
            return false
        }
        let change = observed - previous
        defer { changes.add(change) }
        guard changes.count == changes.capacity, let slope = changes.median, let spread = changes.standardDeviation
        else {
            startTime_s = time_s
            return false
        }
        let scale = max(spread, floor)
        let fall = (slope - change) / scale - tuning.incrementAllowance
        run = fall > 0 ? run + 1 : 0
        let wasZero = sum == 0
        sum = max(0, sum + min(fall, tuning.incrementThreshold / 2))
        if sum == 0 {
            startTime_s = time_s
            excursion = 0
        } else {
            if wasZero { beforeExcursion = recent.latest(tuning.levelWindow, skipping: 1) }
            excursion += 1
        }
        return sum >= tuning.incrementThreshold && run >= tuning.incrementRunNeeded
    }
}

/// The drop test of ``DendriteShortCriterion``: drops (runs of samples far below the prediction) and upward
/// excursions counted over the latest judged samples. A soft short's contact makes and breaks: |V| drops again and
/// again and recovers only partly, and never jumps up. An instrument's glitches go both ways, and a reading stuck
/// after a glitch is one drop, not several.
struct DropTest: Sendable {
    let tuning: ShortDetectionTuning
    /// Per judged sample: 1 where a drop began, -1 for an upward excursion, 0 otherwise.
    private var marks: [Int8]
    private var next = 0
    private var filled = 0
    private(set) var downs = 0
    private(set) var ups = 0
    private var belowRun = 0
    private var dropStart_s: Double?
    /// The sample before the first drop counted: the soft short began after it.
    private(set) var firstTime_s: Double?
    private var previousTime_s: Double?

    init(tuning: ShortDetectionTuning) {
        self.tuning = tuning
        marks = [Int8](repeating: 0, count: max(1, tuning.dropWindow))
    }

    mutating func reset() {
        for index in marks.indices { marks[index] = 0 }
        next = 0
        filled = 0
        downs = 0
        ups = 0
        belowRun = 0
        dropStart_s = nil
        firstTime_s = nil
        previousTime_s = nil
    }

    /// Counts one judged sample by its residual in spreads.
    mutating func add(standardised: Double, time_s: Double) {
        defer { previousTime_s = time_s }
        let below = standardised < -tuning.dropSize
        // A drop counts when it is over: short, and |V| back near the prediction.
        let recovered = !below && standardised > -tuning.dropSize / 2
        let mark: Int8 =
            recovered && (1...tuning.dropLength).contains(belowRun) ? 1 : standardised > tuning.dropSize ? -1 : 0
        if below {
            if belowRun == 0 { dropStart_s = previousTime_s ?? time_s }
            belowRun += 1
        } else {
            belowRun = 0
        }
        if filled == marks.count {
            if marks[next] > 0 { downs -= 1 }
            if marks[next] < 0 { ups -= 1 }
        } else {
            filled += 1
        }
        if mark > 0, downs == 0 { firstTime_s = dropStart_s ?? time_s }
        marks[next] = mark
        next = (next + 1) % marks.count
        if mark > 0 { downs += 1 }
        if mark < 0 { ups += 1 }
        if downs == 0 { firstTime_s = nil }
    }

    var isTripped: Bool { downs >= tuning.dropsNeeded && ups == 0 }
}

/// The slow part of the residuals' noise: the robust spread of their means over blocks of a few samples. White
/// noise averages down in a block; coloured noise (1/f, telegraph, a wander the models do not follow) does not, and
/// a run of residuals on one side is then its nature rather than a fall.
struct SlowNoise: Sendable {
    static let blockLength = 8
    private var blockMeans = RobustScale(capacity: 15)
    private var sum = 0.0
    private var count = 0

    mutating func add(_ residual: Double) {
        guard residual.isFinite else { return }
        sum += residual
        count += 1
        guard count == Self.blockLength else { return }
        blockMeans.add(sum / Double(count))
        sum = 0
        count = 0
    }

    /// The spread of a block's mean residual (about zero); nil until enough blocks are in.
    var blockSpread_V: Double? { blockMeans.scaleAboutZero }
}

/// The one-sided noise test of ``DendriteShortCriterion``: a short's contact making and breaking pulls |V| down again
/// and again but never above the healthy level, so the residuals grow a long lower tail while the upper one stays.
/// Over the latest ``window`` judged residuals, the distance from the median down to the 10th percentile against the
/// distance up to the 90th. Symmetric noise, coloured noise and glitches or bursts going both ways leave the two
/// equal; a few isolated glitches do not move the 10th percentile.
struct OneSidedNoise: Sendable {
    static let window = 32
    private var residuals = RunningOrder(capacity: OneSidedNoise.window)
    private var times = [Double](repeating: 0, count: OneSidedNoise.window)
    private var next = 0
    private(set) var run = 0

    mutating func reset() {
        residuals.removeAll()
        next = 0
        run = 0
    }

    /// The lower and upper tail lengths, volts, once the window is three-quarters full.
    var tails: (lower: Double, upper: Double, median: Double)? {
        guard residuals.count * 4 >= OneSidedNoise.window * 3, let median = residuals.median,
            let low = residuals.quantile(0.1), let high = residuals.quantile(0.9)
        else { return nil }
        return (median - low, high - median, median)
    }

    /// Adds a residual; true when the lower tail has been `ratio` times the upper one (and at least `minimum`) for
    /// `samplesNeeded` samples in a row.
    /// The upper tail counts as at least `upperFloor`: stuck or quantised readings can shrink it below what the noise
    /// makes.
    mutating func add(
        _ residual_V: Double, time_s: Double, ratio: Double, minimum: Double, upperFloor: Double, samplesNeeded: Int
    ) -> Bool {
        guard residual_V.isFinite else { return false }
        residuals.add(residual_V)
        times[next] = time_s
        next = (next + 1) % OneSidedNoise.window
        // Flicker leaves most samples where they were (the median residual near zero); a trend the models overshoot
        // moves them all.
        guard let tails, tails.lower >= minimum, tails.lower >= ratio * max(tails.upper, upperFloor),
            abs(tails.median) <= tails.lower / 2
        else {
            run = 0
            return false
        }
        run += 1
        return run >= samplesNeeded
    }

    /// The earliest time among the samples now far down the lower tail: the one-sided noise began about then.
    var onsetTime_s: Double? {
        guard let tails else { return nil }
        var earliest: Double?
        for (index, value) in residuals.stored.enumerated() where value < tails.median - tails.lower / 2 {
            earliest = min(earliest ?? times[index], times[index])
        }
        return earliest
    }
}
