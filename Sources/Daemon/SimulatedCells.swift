import Domain
import Foundation
import ProtocolFiles
import Simulation

/// Builds the cell model a simulated rig drives, from its rig file and the run's cell and protocol.
///
/// For the physics model the order is: the preset, then what the cell description says (area, metal, metal and
/// electrolyte thickness, stack pressure, temperature) and whether the protocol measures a reference electrode,
/// then the rig file's `parameters:` (which win).
enum SimulatedCells {
    static func model(
        _ configuration: SimulatedCellConfiguration, cell: CellDescription, threeElectrode: Bool, rigFile: String
    ) throws(FileError) -> any CellModel {
        switch configuration.model {
        case .ohmic:
            return OhmicCell(
                configuration: configuration, area_cm2: cell.electrodeArea_cm2,
                stackPressure_MPa: cell.stackPressure_MPa, temperature_C: cell.temperature_C)
        case .physics(let preset):
            return PhysicsCell(
                parameters: try physicsParameters(
                    preset: preset, configuration: configuration, cell: cell, threeElectrode: threeElectrode,
                    rigFile: rigFile))
        }
    }

    static func physicsParameters(
        preset: String, configuration: SimulatedCellConfiguration, cell: CellDescription, threeElectrode: Bool,
        rigFile: String
    ) throws(FileError) -> PhysicsCellParameters {
        var parameters: PhysicsCellParameters
        do {
            parameters = try PhysicsCellParameters.preset(named: preset)
        } catch {
            throw FileError(
                file: rigFile, key: "galvanostat.preset", value: preset, problem: "unknown preset '\(preset)'",
                allowed: PhysicsCellParameters.allPresetNames.joined(separator: ", "))
        }
        do {
            try parameters.override("metal", with: cell.metal.rawValue)
            try parameters.override("electrodeArea_cm2", with: cell.electrodeArea_cm2)
            try parameters.override("threeElectrode", with: threeElectrode ? 1 : 0)
            try parameters.override("seed", with: Double(configuration.seed))
            if let thickness = cell.metalThickness_um { try parameters.override("metalThickness_um", with: thickness) }
            if let thickness = cell.electrolyteThickness_um {
                try parameters.override("electrolyteThickness_um", with: thickness)
            }
            if let pressure = cell.stackPressure_MPa { try parameters.override("stackPressure_MPa", with: pressure) }
            if let temperature = cell.temperature_C { try parameters.override("temperature_C", with: temperature) }
        } catch {
            throw FileError(
                file: rigFile, key: "cell", problem: "the cell description does not fit the model: \(error)")
        }
        for parameter in configuration.parameters {
            do {
                try parameters.override(parameter.name, with: parameter.text)
            } catch {
                throw FileError(
                    file: rigFile, line: parameter.line, column: parameter.column,
                    key: "galvanostat.parameters.\(parameter.name)", value: parameter.text, problem: error.description)
            }
        }
        return parameters
    }

    /// Checks a rig's simulated model at load time, so a bad parameter stops the daemon with its line.
    static func validate(_ rig: RigDescription, rigFile: String) throws(FileError) {
        guard case .simulated(let configuration) = rig.galvanostat else { return }
        _ = try model(configuration, cell: rig.cell, threeElectrode: false, rigFile: rigFile)
    }
}

/// The physics model's presets and parameters as a table for people (`cellrigd --simulation-parameters`).
public enum SimulatedCellDocumentation {
    public static var text: String {
        var lines = [
            "presets (galvanostat.preset): " + PhysicsCellParameters.allPresetNames.joined(separator: ", "),
            "parameters (galvanostat.parameters; a number in the unit the name ends with):",
        ]
        let width = PhysicsCellParameters.catalogue.map(\.name.count).max() ?? 20
        for info in PhysicsCellParameters.catalogue {
            let range =
                info.allowedRange.upperBound > 1e300
                ? (info.allowedRange.lowerBound > 0 ? "> 0" : ">= 0")
                : "\(formatNumber(info.allowedRange.lowerBound)) to \(formatNumber(info.allowedRange.upperBound))"
            lines.append(
                "  " + info.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + "[\(info.unit); \(range)] "
                    + info.summary)
        }
        lines.append("  metal".padding(toLength: width + 4, withPad: " ", startingAt: 0) + "[Li, Na or K]")
        return lines.joined(separator: "\n")
    }
}
