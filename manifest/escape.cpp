#include "manifest/escape.hpp"

namespace exmsync::manifest {
namespace {

// Length of the well-formed UTF-8 sequence starting at text[i], or 0.
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char c = byte(i);
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;  // no UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (i + len > text.size()) return 0;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < len; ++k)
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
    return len;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        std::size_t len = utf8_sequence(text, i);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

std::string escape_path(std::string_view raw) {
    std::string out;
    append_escaped_path(out, raw);
    return out;
}

void append_escaped_path(std::string& out, std::string_view raw) {
    // Almost every path is printable ASCII without a backslash: copied as is.
    bool plain = true;
    for (char c : raw) {
        auto b = static_cast<unsigned char>(c);
        if (b < 0x20 || b >= 0x7F || b == '\\') {
            plain = false;
            break;
        }
    }
    if (plain) {
        out.append(raw);
        return;
    }
    static const char digits[] = "0123456789abcdef";
    out.reserve(out.size() + raw.size());
    for (std::size_t i = 0; i < raw.size();) {
        auto c = static_cast<unsigned char>(raw[i]);
        if (c == '\\') { out += "\\\\"; ++i; continue; }
        if (c == '\t') { out += "\\t"; ++i; continue; }
        if (c == '\n') { out += "\\n"; ++i; continue; }
        if (c == '\r') { out += "\\r"; ++i; continue; }
        std::size_t len = (c < 0x20 || c == 0x7F) ? 0 : utf8_sequence(raw, i);
        if (len == 0) {
            out += "\\x";
            out += digits[c >> 4];
            out += digits[c & 15];
            ++i;
        } else {
            out.append(raw.substr(i, len));
            i += len;
        }
    }
}

std::optional<std::string> unescape_path(std::string_view text) {
    std::string out;
    if (!unescape_path_into(text, out)) return std::nullopt;
    return out;
}

bool unescape_path_into(std::string_view text, std::string& out) {
    if (text.find('\\') == std::string_view::npos) {
        out.assign(text);
        return true;
    }
    out.clear();
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c != '\\') { out += c; continue; }
        if (++i == text.size()) return false;
        switch (text[i]) {
            case '\\': out += '\\'; break;
            case 't': out += '\t'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 'x': {
                if (i + 2 >= text.size()) return false;
                int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
                if (hi < 0 || lo < 0) return false;
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                break;
            }
            default: return false;
        }
    }
    return true;
}

}  // namespace exmsync::manifest
