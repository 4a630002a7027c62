/// Small dense linear algebra for the fitters: row-major matrices as flat arrays, sizes of tens to a few hundred.
enum LinearAlgebra {
    /// The Cholesky factor L (lower triangular, row-major) of a symmetric positive definite n x n matrix, or nil when
    /// the matrix is not positive definite to working precision.
    static func cholesky(_ matrix: [Double], size n: Int) -> [Double]? {
        var factor = [Double](repeating: 0, count: n * n)
        for row in 0..<n {
            for column in 0...row {
                var sum = matrix[row * n + column]
                for k in 0..<column { sum -= factor[row * n + k] * factor[column * n + k] }
                if row == column {
                    guard sum > 0, sum.isFinite else { return nil }
                    factor[row * n + row] = sum.squareRoot()
                } else {
                    factor[row * n + column] = sum / factor[column * n + column]
                }
            }
        }
        return factor
    }

    /// Solves L L^T x = b for a Cholesky factor L.
    static func choleskySolve(_ factor: [Double], size n: Int, _ rhs: [Double]) -> [Double] {
        var y = rhs
        for row in 0..<n {
            for k in 0..<row { y[row] -= factor[row * n + k] * y[k] }
            y[row] /= factor[row * n + row]
        }
        for row in stride(from: n - 1, through: 0, by: -1) {
            for k in (row + 1)..<n { y[row] -= factor[k * n + row] * y[k] }
            y[row] /= factor[row * n + row]
        }
        return y
    }

    /// The inverse of a symmetric positive semi-definite matrix such as J^T J, for a covariance.
    ///
    /// The matrix is first scaled to unit diagonal, so parameters of very different magnitude (ohms and farads)
    /// do not make it look singular, and a ridge of `ridge` (relative) is added: a direction the data do not
    /// determine then gets a very large variance instead of none. Rows with a zero diagonal (a parameter with no
    /// effect at all) get infinite variance.
    static func covarianceInverse(_ matrix: [Double], size n: Int, ridge: Double = 1e-12) -> [Double]? {
        var scale = [Double](repeating: 1, count: n)
        var dead = [Bool](repeating: false, count: n)
        for index in 0..<n {
            let diagonal = matrix[index * n + index]
            guard diagonal.isFinite else { return nil }
            if diagonal > 0 { scale[index] = 1 / diagonal.squareRoot() } else { dead[index] = true }
        }
        var scaled = [Double](repeating: 0, count: n * n)
        for row in 0..<n {
            for column in 0..<n where !dead[row] && !dead[column] {
                scaled[row * n + column] = matrix[row * n + column] * scale[row] * scale[column]
            }
            scaled[row * n + row] = 1 + ridge
        }
        guard let factor = cholesky(scaled, size: n) else { return nil }
        var inverse = [Double](repeating: 0, count: n * n)
        for column in 0..<n {
            var unit = [Double](repeating: 0, count: n)
            unit[column] = 1
            let solution = choleskySolve(factor, size: n, unit)
            for row in 0..<n { inverse[row * n + column] = solution[row] * scale[row] * scale[column] }
        }
        for index in 0..<n where dead[index] { inverse[index * n + index] = .infinity }
        return inverse
    }

    /// The least-squares solution of A x ~ b for an m x n matrix A (m >= n, row-major), by Householder QR.
    /// Columns are scaled to unit norm first (units as different as ohms and henries share one matrix).
    static func leastSquares(_ matrix: [Double], rows m: Int, columns n: Int, _ rhs: [Double]) -> [Double] {
        var a = matrix
        var columnScale = [Double](repeating: 1, count: n)
        for column in 0..<n {
            var norm = 0.0
            for row in 0..<m { norm += a[row * n + column] * a[row * n + column] }
            guard norm > 0 else { continue }
            columnScale[column] = 1 / norm.squareRoot()
            for row in 0..<m { a[row * n + column] *= columnScale[column] }
        }
        var b = rhs
        var diagonal = [Double](repeating: 0, count: n)
        for k in 0..<n {
            var norm = 0.0
            for row in k..<m { norm += a[row * n + k] * a[row * n + k] }
            norm = norm.squareRoot()
            guard norm > 0 else {
                diagonal[k] = 0
                continue
            }
            let alpha = a[k * n + k] > 0 ? -norm : norm
            // v = x - alpha e1, stored in place of column k.
            a[k * n + k] -= alpha
            var vNormSquared = 0.0
            for row in k..<m { vNormSquared += a[row * n + k] * a[row * n + k] }
            diagonal[k] = alpha
            guard vNormSquared > 0 else { continue }
            for column in (k + 1)..<n {
                var dot = 0.0
                for row in k..<m { dot += a[row * n + k] * a[row * n + column] }
                let factor = 2 * dot / vNormSquared
                for row in k..<m { a[row * n + column] -= factor * a[row * n + k] }
            }
            var dot = 0.0
            for row in k..<m { dot += a[row * n + k] * b[row] }
            let factor = 2 * dot / vNormSquared
            for row in k..<m { b[row] -= factor * a[row * n + k] }
        }
        var solution = [Double](repeating: 0, count: n)
        for k in stride(from: n - 1, through: 0, by: -1) {
            guard diagonal[k] != 0 else { continue }
            var sum = b[k]
            for column in (k + 1)..<n { sum -= a[k * n + column] * solution[column] }
            solution[k] = sum / diagonal[k]
        }
        return zip(solution, columnScale).map(*)
    }
}
