/// Reduces a time series to what a plot of `buckets` pixel columns can show, keeping every spike.
///
/// Per pixel column it keeps the first, lowest, highest and last point (the M4 scheme): a line drawn through
/// them covers exactly the pixels the full series would, so a one-sample spike or a short survives. Points are
/// added in time order, streaming; a series shorter than four points per column is kept whole.
struct MinMaxDecimator {
    let start: Double
    let end: Double
    let buckets: Int
    private var columns: [Column?]
    private var all: [(Double, Double)] = []
    private var keepsAll = true
    private(set) var count = 0

    private struct Column {
        var first: (Double, Double)
        var minimum: (Double, Double)
        var maximum: (Double, Double)
        var last: (Double, Double)
    }

    init(start: Double, end: Double, buckets: Int) {
        self.start = start
        self.end = max(end, start + 1e-9)
        self.buckets = max(buckets, 1)
        columns = [Column?](repeating: nil, count: max(buckets, 1))
    }

    mutating func add(_ x: Double, _ y: Double) {
        guard x >= start, x <= end, y.isFinite else { return }
        count += 1
        if keepsAll {
            all.append((x, y))
            if all.count > 4 * buckets {
                keepsAll = false
                for point in all { bucket(point) }
                all = []
            }
            return
        }
        bucket((x, y))
    }

    private mutating func bucket(_ point: (Double, Double)) {
        let index = min(buckets - 1, max(0, Int((point.0 - start) / (end - start) * Double(buckets))))
        if var column = columns[index] {
            if point.1 < column.minimum.1 { column.minimum = point }
            if point.1 > column.maximum.1 { column.maximum = point }
            column.last = point
            columns[index] = column
        } else {
            columns[index] = Column(first: point, minimum: point, maximum: point, last: point)
        }
    }

    /// The kept points in time order.
    var points: [(Double, Double)] {
        if keepsAll { return all }
        var result: [(Double, Double)] = []
        result.reserveCapacity(buckets * 4)
        for column in columns {
            guard let column else { continue }
            let ordered = [column.first, column.minimum, column.maximum, column.last].sorted { $0.0 < $1.0 }
            for point in ordered where result.last.map({ $0 != point }) ?? true { result.append(point) }
        }
        return result
    }
}
