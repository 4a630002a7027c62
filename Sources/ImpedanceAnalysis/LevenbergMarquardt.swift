/// Levenberg-Marquardt minimisation of a sum of squared residuals, with a forward-difference Jacobian and
/// Marquardt's scaling (damping proportional to the diagonal of J^T J).
struct LevenbergMarquardt {
    var maximumIterations = 300
    /// Stop when an accepted step lowers the cost by less than this fraction.
    var relativeTolerance = 1e-12

    struct Outcome {
        var parameters: [Double]
        var residuals: [Double]
        var cost: Double
        var iterations: Int
        var converged: Bool
    }

    /// Minimises sum(residuals(x)^2) from `start`. `residuals` returns the same count every call; a non-finite
    /// residual makes a trial step count as a failure.
    func minimize(from start: [Double], residuals: ([Double]) -> [Double]) -> Outcome {
        let n = start.count
        var x = start
        var r = residuals(x)
        var cost = Self.sumOfSquares(r)
        var damping = 1e-3
        var iterations = 0
        var converged = false
        guard cost.isFinite else {
            return Outcome(parameters: x, residuals: r, cost: cost, iterations: 0, converged: false)
        }
        while iterations < maximumIterations {
            iterations += 1
            let jacobian = Self.jacobian(at: x, residuals: r, function: residuals)
            let (normal, gradient) = Self.normalEquations(jacobian, residuals: r, parameters: n)
            var improved = false
            var smallStep = false
            for _ in 0..<30 {
                var damped = normal
                for index in 0..<n { damped[index * n + index] += damping * max(normal[index * n + index], 1e-30) }
                guard let factor = LinearAlgebra.cholesky(damped, size: n) else {
                    damping *= 10
                    continue
                }
                let step = LinearAlgebra.choleskySolve(factor, size: n, gradient.map { -$0 })
                let trial = zip(x, step).map(+)
                let trialResiduals = residuals(trial)
                let trialCost = Self.sumOfSquares(trialResiduals)
                if trialCost.isFinite, trialCost < cost {
                    let reduction = (cost - trialCost) / max(cost, 1e-300)
                    smallStep = zip(step, x).allSatisfy { abs($0) <= 1e-10 * (abs($1) + 1e-10) }
                    x = trial
                    r = trialResiduals
                    cost = trialCost
                    damping = max(damping / 3, 1e-12)
                    improved = true
                    if reduction < relativeTolerance { converged = true }
                    break
                }
                damping *= 4
                if damping > 1e16 { break }
            }
            if !improved || smallStep {
                // No step lowers the cost any more: a minimum to working precision.
                converged = true
            }
            if converged { break }
        }
        return Outcome(parameters: x, residuals: r, cost: cost, iterations: iterations, converged: converged)
    }

    static func sumOfSquares(_ values: [Double]) -> Double {
        values.reduce(0) { $0 + $1 * $1 }
    }

    /// Forward differences, column-major by parameter: jacobian[j] is d residuals / d x_j.
    static func jacobian(at x: [Double], residuals r: [Double], function: ([Double]) -> [Double]) -> [[Double]] {
        (0..<x.count).map { index in
            var shifted = x
            let step = 1e-7 * max(abs(x[index]), 1e-3)
            shifted[index] += step
            let changed = function(shifted)
            return zip(changed, r).map { ($0 - $1) / step }
        }
    }

    /// J^T J (n x n, row-major) and J^T r for a Jacobian given column by column.
    static func normalEquations(_ jacobian: [[Double]], residuals r: [Double], parameters n: Int) -> (
        [Double], [Double]
    ) {
        var normal = [Double](repeating: 0, count: n * n)
        var gradient = [Double](repeating: 0, count: n)
        for row in 0..<n {
            let columnA = jacobian[row]
            for column in row..<n {
                let columnB = jacobian[column]
                var sum = 0.0
                for index in 0..<r.count { sum += columnA[index] * columnB[index] }
                normal[row * n + column] = sum
                normal[column * n + row] = sum
            }
            var sum = 0.0
            for index in 0..<r.count { sum += columnA[index] * r[index] }
            gradient[row] = sum
        }
        return (normal, gradient)
    }
}
