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
    private var factor = CholeskyFactor()
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
        let forward = factor.forward(feature)
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
        rightSide += feature * value
        normal += SIMD16(
            lowHalf: SIMD8(lowHalf: feature * feature[0], highHalf: feature * feature[1]),
            highHalf: SIMD8(lowHalf: feature * feature[2], highHalf: feature * feature[3]))
        sampleCount += 1
        if let factor = CholeskyFactor(normal + Self.ridgeDiagonal) {
            self.factor = factor
            solved = true
            coefficients = factor.solve(rightSide)
        } else {
            solved = false
        }
    }

    /// Moves the trend's origin later by `delta` trend units: u becomes u - delta in every stored sum.
    private mutating func recentre(by delta: Double) {
        guard delta != 0 else { return }
        let zeroOne = normal[1]
        normal[5] = normal[5] - 2 * delta * zeroOne + delta * delta * normal[0]
        normal[1] = zeroOne - delta * normal[0]
        normal[4] = normal[1]
        normal[6] -= delta * normal[2]
        normal[9] = normal[6]
        normal[7] -= delta * normal[3]
        normal[13] = normal[7]
        rightSide[1] -= delta * rightSide[0]
    }

    /// Ridge on each coefficient (V^2 of residual per V^2 of coefficient): a prior that keeps the trend within about
    /// 10 V per unit and the transient amplitudes within about 0.1 V for noise near 0.1 mV, so nearly collinear
    /// transients cannot trade huge opposite amplitudes.
    static let ridge = SIMD4<Double>(1e-14, 1e-10, 1e-6, 1e-6)
    private static let ridgeDiagonal = SIMD16<Double>(
        ridge[0], 0, 0, 0, 0, ridge[1], 0, 0, 0, 0, ridge[2], 0, 0, 0, 0, ridge[3])

    /// The fitted level and trend (volts per trend unit) at the latest sample.
    var levelAndTrend: (level: Double, trend: Double)? {
        solved ? (coefficients[0], coefficients[1]) : nil
    }
}

/// The lower-triangular Cholesky factor L of a symmetric positive definite 4 x 4 matrix (A = L L'), written out
/// element by element (with the diagonal's reciprocals) so that a model's update costs a few dozen multiplications:
/// the bank factors ten of them per sample.
struct CholeskyFactor: Sendable {
    private var l10 = 0.0, l20 = 0.0, l30 = 0.0, l21 = 0.0, l31 = 0.0, l32 = 0.0
    private var inverse = SIMD4<Double>(1, 1, 1, 1)

    init() {}

    /// Factors `matrix` (row-major); nil when it is not positive definite.
    init?(_ matrix: SIMD16<Double>) {
        let d0 = matrix[0]
        guard d0 > 0 else { return nil }
        let i0 = 1 / d0.squareRoot()
        l10 = matrix[4] * i0
        l20 = matrix[8] * i0
        l30 = matrix[12] * i0
        let d1 = matrix[5] - l10 * l10
        guard d1 > 0 else { return nil }
        let i1 = 1 / d1.squareRoot()
        l21 = (matrix[9] - l20 * l10) * i1
        l31 = (matrix[13] - l30 * l10) * i1
        let d2 = matrix[10] - l20 * l20 - l21 * l21
        guard d2 > 0 else { return nil }
        let i2 = 1 / d2.squareRoot()
        l32 = (matrix[14] - l30 * l20 - l31 * l21) * i2
        let d3 = matrix[15] - l30 * l30 - l31 * l31 - l32 * l32
        guard d3 > 0 else { return nil }
        inverse = SIMD4(i0, i1, i2, 1 / d3.squareRoot())
    }

    /// L^-1 b.
    func forward(_ b: SIMD4<Double>) -> SIMD4<Double> {
        let y0 = b[0] * inverse[0]
        let y1 = (b[1] - l10 * y0) * inverse[1]
        let y2 = (b[2] - l20 * y0 - l21 * y1) * inverse[2]
        let y3 = (b[3] - l30 * y0 - l31 * y1 - l32 * y2) * inverse[3]
        return SIMD4(y0, y1, y2, y3)
    }

    /// A^-1 b.
    func solve(_ b: SIMD4<Double>) -> SIMD4<Double> {
        let y = forward(b)
        let x3 = y[3] * inverse[3]
        let x2 = (y[2] - l32 * x3) * inverse[2]
        let x1 = (y[1] - l21 * x2 - l31 * x3) * inverse[1]
        let x0 = (y[0] - l10 * x1 - l20 * x2 - l30 * x3) * inverse[0]
        return SIMD4(x0, x1, x2, x3)
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
