#include "lt/base/table_text.hpp"

namespace lt {

std::string tsv_field(const std::string& text) {
    std::string field = text;
    for (char& c : field)
        if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    return field;
}

std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) quoted += (c == '"') ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

std::string markdown_field(const std::string& text) {
    std::string cell;
    for (char c : text) {
        if (c == '|') cell += "\\|";
        else cell += (c == '\n' || c == '\r') ? ' ' : c;
    }
    return cell;
}

}  // namespace lt
