import Foundation

/// The expected polarisation of one constant-current step: a level and a trend in cell time plus two decaying
/// transients anchored at the step's start, fitted by weighted least squares that forget old samples.
///
/// Features for a sample at time t in a step that began at t0: `[1, (t - now) / scale, exp(-(t - t0) / tauFast),
/// exp(-(t - t0) / tauSlow)]`. The trend is centred on the latest sample so the normal equations stay well
/// conditioned in steps of many hours; the transients vanish by themselves once the step has settled. Each
/// prediction comes with its leverage `f' A^-1 f`, so residuals can be standardised by their own uncertainty
/// (large while few samples are in, small once the model is determined). The features' exponentials are computed by
/// the ``TransientModelBank`` once per sample for all its models.
struct TransientTrendModel: Sendable {
    /// Indices of the fast and slow time constants in the bank's list.
    let fastIndex: Int
    let slowIndex: Int

    /// Normal matrix, row-major 4 x 4 (symmetric), and right-hand side.
    private var normal = SIMD16<Double>()
    private var rightSide = SIMD4<Double>()
    private(set) var sampleCount = 0
    private var coefficients = SIMD4<Double>()
    private var factor = SIMD16<Double>()
    private var solved = false

    init(fastIndex: Int, slowIndex: Int) {
        self.fastIndex = fastIndex
        self.slowIndex = slowIndex
    }

    mutating func reset() {
        normal = SIMD16<Double>()
        rightSide = SIMD4<Double>()
        sampleCount = 0
        solved = false
    }

    /// The expected value for a feature vector and its leverage, once at least two samples are in.
    func predict(_ feature: SIMD4<Double>) -> (value: Double, leverage: Double)? {
        guard sampleCount >= 2, solved else { return nil }
        let value = (feature * coefficients).sum()
        // f' A^-1 f = |L^-1 f|^2 with A = L L'.
        var forward = SIMD4<Double>()
        for row in 0..<4 {
            var sum = feature[row]
            for inner in 0..<row { sum -= factor[row * 4 + inner] * forward[inner] }
            forward[row] = sum / factor[row * 4 + row]
        }
        return (value, max(0, (forward * forward).sum()))
    }

    /// Adds one observation with feature vector `feature` (trend feature 0: the trend is recentred on it) after
    /// forgetting old ones by `keep` and moving the trend's origin by `shift` trend units.
    mutating func add(_ feature: SIMD4<Double>, value: Double, keep: Double, shift: Double) {
        if sampleCount > 0 {
            normal *= keep
            rightSide *= keep
        }
        recentre(by: shift)
        for row in 0..<4 {
            rightSide[row] += feature[row] * value
            for column in 0..<4 { normal[row * 4 + column] += feature[row] * feature[column] }
        }
        sampleCount += 1
        solved = choleskyFactor()
        if solved { coefficients = solve(rightSide) }
    }

    /// Moves the trend's origin later by `delta` trend units: u becomes u - delta in every stored sum.
    private mutating func recentre(by delta: Double) {
        guard delta != 0 else { return }
        let zeroOne = normal[1]
        normal[5] = normal[5] - 2 * delta * zeroOne + delta * delta * normal[0]
        normal[1] = zeroOne - delta * normal[0]
        normal[4] = normal[1]
        for column in 2..<4 {
            normal[4 + column] -= delta * normal[column]
            normal[column * 4 + 1] = normal[4 + column]
        }
        rightSide[1] -= delta * rightSide[0]
    }

    /// Ridge on each coefficient (V^2 of residual per V^2 of coefficient): a prior that keeps the trend within about
    /// 10 V per unit and the transient amplitudes within about 0.1 V for noise near 0.1 mV, so nearly collinear
    /// transients cannot trade huge opposite amplitudes.
    static let ridge = SIMD4<Double>(1e-14, 1e-10, 1e-6, 1e-6)

    /// Lower-triangular Cholesky factor of the regularised normal matrix; false if it is not positive definite.
    private mutating func choleskyFactor() -> Bool {
        var lower = SIMD16<Double>()
        for row in 0..<4 {
            for column in 0...row {
                var sum = normal[row * 4 + column] + (row == column ? Self.ridge[row] : 0)
                for inner in 0..<column { sum -= lower[row * 4 + inner] * lower[column * 4 + inner] }
                if row == column {
                    guard sum > 0 else { return false }
                    lower[row * 4 + row] = sum.squareRoot()
                } else {
                    lower[row * 4 + column] = sum / lower[column * 4 + column]
                }
            }
        }
        factor = lower
        return true
    }

    private func solve(_ right: SIMD4<Double>) -> SIMD4<Double> {
        var forward = SIMD4<Double>()
        for row in 0..<4 {
            var sum = right[row]
            for inner in 0..<row { sum -= factor[row * 4 + inner] * forward[inner] }
            forward[row] = sum / factor[row * 4 + row]
        }
        var result = SIMD4<Double>()
        for row in stride(from: 3, through: 0, by: -1) {
            var sum = forward[row]
            for inner in (row + 1)..<4 { sum -= factor[inner * 4 + row] * result[inner] }
            result[row] = sum / factor[row * 4 + row]
        }
        return result
    }

    /// The fitted level and trend (volts per trend unit) at the latest sample.
    var levelAndTrend: (level: Double, trend: Double)? {
        solved ? (coefficients[0], coefficients[1]) : nil
    }
}

/// A bank of ``TransientTrendModel``s with different transient time constants, fitted side by side on the same
/// samples. The exponentials of the features and the forgetting factor are computed once per sample for the whole
/// bank. Once a step's transients are gone all models predict alike; from then on only the active one is updated.
struct TransientModelBank: Sendable {
    /// The transient time constants, seconds, and the (fast, slow) pairs of them the models use.
    static let timeConstants_s: [Double] = [0.5, 1, 2, 4, 8, 16, 32]
    static let pairs: [(fast: Int, slow: Int)] = [
        (0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (2, 4), (3, 4), (3, 5), (4, 5), (4, 6),
    ]

    private(set) var models: [TransientTrendModel]
    /// Whether each model is still being updated in this step.
    private(set) var isLive: [Bool]
    private var transients = [Double](repeating: 0, count: TransientModelBank.timeConstants_s.count)
    private var stepStart_s = 0.0
    private var origin_s = 0.0
    private var trendScale_s = 60.0
    private var started = false

    init() {
        models = Self.pairs.map { TransientTrendModel(fastIndex: $0.fast, slowIndex: $0.slow) }
        isLive = [Bool](repeating: true, count: Self.pairs.count)
    }

    var count: Int { models.count }

    mutating func reset(stepStart_s: Double, trendScale_s: Double) {
        self.stepStart_s = stepStart_s
        self.trendScale_s = trendScale_s
        origin_s = stepStart_s
        started = false
        for index in models.indices {
            models[index].reset()
            isLive[index] = true
        }
        liveCount = models.count
    }

    /// Computes the transient features at `time_s`; call before ``predict(_:)`` and ``add(_:value:memory_s:)``.
    mutating func prepare(at time_s: Double) {
        let since = max(0, time_s - stepStart_s)
        for index in transients.indices {
            let scaled = since / Self.timeConstants_s[index]
            transients[index] = scaled < 40 ? exp(-scaled) : 0
        }
    }

    private func feature(_ model: Int, trend: Double) -> SIMD4<Double> {
        let pair = models[model]
        return SIMD4(1, trend, transients[pair.fastIndex], transients[pair.slowIndex])
    }

    /// Model `index`'s prediction at the prepared time `time_s`, with its leverage.
    func predict(_ index: Int, at time_s: Double) -> (value: Double, leverage: Double)? {
        guard isLive[index] else { return nil }
        return models[index].predict(feature(index, trend: (time_s - origin_s) / trendScale_s))
    }

    /// Teaches model `index` one observation at the prepared time (all live models must be taught the same sample).
    mutating func add(_ index: Int, time_s: Double, value: Double, keep: Double) {
        guard isLive[index] else { return }
        let shift = started ? (time_s - origin_s) / trendScale_s : 0
        models[index].add(feature(index, trend: 0), value: value, keep: keep, shift: shift)
    }

    /// Ends teaching for the sample at `time_s`: the trend's origin moves to it.
    mutating func finishSample(at time_s: Double) {
        origin_s = time_s
        started = true
    }

    /// Stops updating every model but `active` (the transients are gone and the models agree).
    mutating func keepOnly(_ active: Int) {
        for index in isLive.indices where index != active { isLive[index] = false }
        liveCount = 1
    }

    /// Models still updated in this step.
    private(set) var liveCount = TransientModelBank.pairs.count
}

/// The latest values added, up to a capacity, oldest first on request.
struct RecentValues: Sendable {
    private var values: [Double]
    private var next = 0
    private(set) var count = 0

    init(capacity: Int) {
        values = [Double](repeating: 0, count: capacity)
    }

    mutating func add(_ value: Double) {
        values[next] = value
        next = (next + 1) % values.count
        count = min(count + 1, values.count)
    }

    mutating func removeAll() {
        next = 0
        count = 0
    }

    var capacity: Int { values.count }

    /// Up to `wanted` of the latest values, oldest first, leaving out the `skipping` most recent ones.
    func latest(_ wanted: Int, skipping: Int = 0) -> [Double] {
        let available = max(0, min(wanted, count - skipping))
        return (0..<available).map { offset in
            let back = skipping + available - offset
            return values[(next - back + values.count) % values.count]
        }
    }
}
