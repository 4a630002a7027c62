import Foundation

/// The expected polarisation of one constant-current step: a level and a trend in cell time plus two decaying
/// transients anchored at the step's start, fitted by weighted least squares that forget old samples.
///
/// Features for a sample at time t in a step that began at t0: `[1, (t - now) / scale, exp(-(t - t0) / tauFast),
/// exp(-(t - t0) / tauSlow)]`. The trend is centred on the latest sample so the normal equations stay well
/// conditioned in steps of many hours; the transients vanish by themselves once the step has settled. Each
/// prediction comes with its leverage `f' A^-1 f`, so residuals can be standardised by their own uncertainty
/// (large while few samples are in, small once the model is determined).
struct TransientTrendModel: Sendable {
    let tauFast_s: Double
    let tauSlow_s: Double
    /// Unit of the trend feature, seconds.
    let trendScale_s: Double

    private var stepStart_s = 0.0
    private var origin_s = 0.0
    /// Normal matrix, row-major 4 x 4 (symmetric), and right-hand side.
    private var normal = SIMD16<Double>()
    private var rightSide = SIMD4<Double>()
    private(set) var sampleCount = 0
    private var coefficients: SIMD4<Double>?
    private var factor: SIMD16<Double>?

    init(tauFast_s: Double, tauSlow_s: Double, trendScale_s: Double) {
        self.tauFast_s = tauFast_s
        self.tauSlow_s = tauSlow_s
        self.trendScale_s = trendScale_s
    }

    mutating func reset(stepStart_s: Double) {
        self.stepStart_s = stepStart_s
        origin_s = stepStart_s
        normal = SIMD16<Double>()
        rightSide = SIMD4<Double>()
        sampleCount = 0
        coefficients = nil
        factor = nil
    }

    private func features(at time_s: Double) -> SIMD4<Double> {
        let since = max(0, time_s - stepStart_s)
        return SIMD4(1, (time_s - origin_s) / trendScale_s, exp(-since / tauFast_s), exp(-since / tauSlow_s))
    }

    /// The expected value at `time_s` and its leverage, once at least two samples are in.
    func predict(at time_s: Double) -> (value: Double, leverage: Double)? {
        guard sampleCount >= 2, let coefficients, let factor else { return nil }
        let feature = features(at: time_s)
        let value = (feature * coefficients).sum()
        let leverage = (feature * solve(factor, feature)).sum()
        return (value, max(0, leverage))
    }

    /// Adds one observation after forgetting old ones by `exp(-dt / memory)`.
    mutating func add(time_s: Double, value: Double, memory_s: Double) {
        let shift = time_s - origin_s
        if sampleCount > 0 {
            let keep = exp(-max(0, shift) / memory_s)
            normal *= keep
            rightSide *= keep
        }
        recentre(by: shift / trendScale_s)
        origin_s = time_s
        let feature = features(at: time_s)
        for row in 0..<4 {
            rightSide[row] += feature[row] * value
            for column in 0..<4 { normal[row * 4 + column] += feature[row] * feature[column] }
        }
        sampleCount += 1
        factor = choleskyFactor()
        if let factor { coefficients = solve(factor, rightSide) }
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

    /// Lower-triangular Cholesky factor of the regularised normal matrix, or nil if it is not positive.
    private func choleskyFactor() -> SIMD16<Double>? {
        var lower = SIMD16<Double>()
        for row in 0..<4 {
            for column in 0...row {
                var sum = normal[row * 4 + column] + (row == column ? Self.ridge[row] : 0)
                for inner in 0..<column { sum -= lower[row * 4 + inner] * lower[column * 4 + inner] }
                if row == column {
                    guard sum > 0 else { return nil }
                    lower[row * 4 + row] = sum.squareRoot()
                } else {
                    lower[row * 4 + column] = sum / lower[column * 4 + column]
                }
            }
        }
        return lower
    }

    private func solve(_ lower: SIMD16<Double>, _ right: SIMD4<Double>) -> SIMD4<Double> {
        var forward = SIMD4<Double>()
        for row in 0..<4 {
            var sum = right[row]
            for inner in 0..<row { sum -= lower[row * 4 + inner] * forward[inner] }
            forward[row] = sum / lower[row * 4 + row]
        }
        var result = SIMD4<Double>()
        for row in stride(from: 3, through: 0, by: -1) {
            var sum = forward[row]
            for inner in (row + 1)..<4 { sum -= lower[inner * 4 + row] * result[inner] }
            result[row] = sum / lower[row * 4 + row]
        }
        return result
    }

    /// The fitted level and trend (volts per second) at the latest sample.
    var levelAndSlope: (level: Double, slope_per_s: Double)? {
        guard let coefficients else { return nil }
        return (coefficients[0], coefficients[1] / trendScale_s)
    }
}

/// A robust running location and scale of the latest values: their median, and the median absolute deviation
/// from it as a Gaussian standard deviation (a steady offset, such as a model's lag, does not inflate the scale).
struct RobustScale: Sendable {
    private var buffer: RecentValues

    init(capacity: Int) {
        buffer = RecentValues(capacity: capacity)
    }

    var count: Int { buffer.count }
    var capacity: Int { buffer.capacity }
    private var values: ArraySlice<Double> { buffer.unordered }

    mutating func add(_ value: Double) {
        buffer.add(value)
    }

    mutating func removeAll() {
        buffer.removeAll()
    }

    private static func median(_ sorted: [Double]) -> Double {
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The median of the values held; nil while empty.
    var median: Double? {
        guard count > 0 else { return nil }
        return Self.median(values.sorted())
    }

    /// The median absolute value as a Gaussian standard deviation (an offset counts as spread); nil until the
    /// buffer is half full.
    var scaleAboutZero: Double? {
        guard count * 2 >= capacity else { return nil }
        return Self.median(values.map { abs($0) }.sorted()) / 0.6745
    }

    /// nil until the buffer is half full.
    var standardDeviation: Double? {
        guard count * 2 >= capacity, let centre = median else { return nil }
        return Self.median(values.map { abs($0 - centre) }.sorted()) / 0.6745
    }
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

    /// The values held, in no particular order.
    var unordered: ArraySlice<Double> { values.prefix(count) }

    /// Up to `wanted` of the latest values, oldest first, leaving out the `skipping` most recent ones.
    func latest(_ wanted: Int, skipping: Int = 0) -> [Double] {
        let available = max(0, min(wanted, count - skipping))
        return (0..<available).map { offset in
            let back = skipping + available - offset
            return values[(next - back + values.count) % values.count]
        }
    }
}
