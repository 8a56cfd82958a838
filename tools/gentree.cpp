// exmsync-gentree: deterministic generator of Sitecore EXM template trees, for
// the demo, the tests and the benchmarks.
//
//   exmsync-gentree DIR [--files N] [--seed S]        create a new tree
//   exmsync-gentree --mutate PERCENT [--seed S] DIR   change PERCENT% of its files
//
// Same arguments => byte-identical tree on any platform: the only randomness is
// the raw output of std::mt19937_64 (fully specified by the standard), turned
// into ranges with our own arithmetic. std::uniform_int_distribution and friends
// are not used because each standard library implements them differently.
//
// Layout of a generated tree:
//   Imported/campaign-NNN/<locale>[/<message>[/<variant>]]/*.html|png|jpg|gif
//   App_Config/Include/EmailExperience/*.config

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------
// Randomness

class Rng {
public:
    explicit Rng(std::uint64_t seed) : engine_(seed) {}

    std::uint64_t next() { return engine_(); }

    // Uniform-ish in [lo, hi]. The modulo bias is irrelevant for test data and
    // the result is the same everywhere, which is what matters.
    std::uint64_t range(std::uint64_t lo, std::uint64_t hi) {
        return lo + next() % (hi - lo + 1);
    }

    // Skewed towards lo (the minimum of two draws, mean lo + (hi-lo)/3): real
    // template folders hold many small files and a few large ones.
    std::uint64_t skewed(std::uint64_t lo, std::uint64_t hi) {
        return std::min(range(lo, hi), range(lo, hi));
    }

    bool percent(unsigned p) { return range(0, 99) < p; }

    template <class T>
    const T& pick(const std::vector<T>& v) { return v[range(0, v.size() - 1)]; }

private:
    std::mt19937_64 engine_;
};

// Seeds of independent streams derived from the user's seed (splitmix64 step),
// so that the text pool does not shift when the layout logic changes.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

std::string hex(std::uint64_t v, int digits) {
    static const char* d = "0123456789abcdef";
    std::string s(digits, '0');
    for (int i = digits - 1; i >= 0; --i, v >>= 4) s[i] = d[v & 15];
    return s;
}

std::string padded(std::uint64_t v, int width) {
    std::string s = std::to_string(v);
    return s.size() < static_cast<size_t>(width) ? std::string(width - s.size(), '0') + s : s;
}

// ---------------------------------------------------------------------------
// Word lists

const std::vector<std::string> kWords = {
    "offer", "exclusive", "members", "summer", "winter", "spring", "autumn", "sale",
    "new", "collection", "discover", "latest", "update", "account", "order", "delivery",
    "welcome", "thank", "you", "for", "your", "purchase", "we", "are", "excited", "to",
    "share", "our", "event", "join", "us", "today", "limited", "time", "only", "save",
    "free", "shipping", "on", "all", "orders", "over", "learn", "more", "about", "the",
    "product", "range", "service", "support", "team", "newsletter", "monthly", "weekly",
    "highlights", "insights", "from", "experts", "customer", "stories", "webinar",
    "register", "now", "seats", "reminder", "confirm", "subscription", "preferences",
    "loyalty", "points", "reward", "voucher", "code", "valid", "until", "store", "near",
    "with", "and", "of", "in", "a", "this", "that", "new", "season", "trends", "guide",
};

const std::vector<std::string> kTokens = {
    "$name$", "$firstname$", "$lastname$", "$email$", "$company$", "$unsubscribe_link$",
    "$online_version$", "$contact_id$", "$message_id$", "$preferences_link$", "$city$",
};

const std::vector<std::string> kFonts = {
    "Arial, Helvetica, sans-serif", "Helvetica, Arial, sans-serif",
    "Georgia, 'Times New Roman', serif", "Verdana, Geneva, sans-serif",
    "'Segoe UI', Tahoma, sans-serif", "Tahoma, Verdana, sans-serif",
};

const std::vector<std::string> kLocales = {
    "en", "en-GB", "en-US", "de-DE", "fr-FR", "nl-NL", "da-DK", "ja-JP", "es-ES", "it-IT", "sv-SE",
};

const std::vector<std::string> kMessages = {
    "newsletter", "welcome", "abandoned-cart", "receipts", "event-invite", "re-engagement",
    "password-reset", "product-launch", "survey", "birthday",
};

const std::vector<std::string> kVariants = {"variant-a", "variant-b", "mobile", "archive", "test"};

const std::vector<std::string> kImageStems = {"hero", "logo", "banner", "product", "icon", "spacer", "footer", "social"};

std::string color(Rng& rng) { return "#" + hex(rng.range(0, 0xFFFFFF), 6); }

std::string sentence(Rng& rng, int min_words, int max_words) {
    std::string s;
    int n = static_cast<int>(rng.range(min_words, max_words));
    for (int i = 0; i < n; ++i) {
        if (i) s += ' ';
        s += rng.percent(8) ? rng.pick(kTokens) : rng.pick(kWords);
    }
    if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    return s + (rng.percent(20) ? "!" : ".");
}

std::string slug(Rng& rng) { return rng.pick(kWords) + "-" + rng.pick(kWords); }

// ---------------------------------------------------------------------------
// Pool of HTML chunks. Files are made of chunks picked from this pool, so that
// generating gigabytes of text is mostly memcpy.

std::string td_style(Rng& rng) {
    return "padding:" + std::to_string(rng.range(4, 40)) + "px;font-family:" + rng.pick(kFonts) +
           ";font-size:" + std::to_string(rng.range(11, 22)) + "px;line-height:" +
           std::to_string(rng.range(14, 30)) + "px;color:" + color(rng) + ";";
}

std::string chunk_paragraphs(Rng& rng) {
    std::string s = "      <tr>\n        <td style=\"" + td_style(rng) + "\">\n";
    for (int i = 0, n = static_cast<int>(rng.range(1, 4)); i < n; ++i)
        s += "          <p style=\"margin:0 0 12px 0;\">" + sentence(rng, 8, 40) + "</p>\n";
    return s + "        </td>\n      </tr>\n";
}

std::string chunk_button(Rng& rng) {
    return "      <tr>\n        <td align=\"center\" style=\"padding:" + std::to_string(rng.range(10, 30)) +
           "px;\">\n          <a href=\"https://www.example.com/" + slug(rng) + "?utm_source=exm&amp;utm_medium=email&amp;utm_campaign=" +
           slug(rng) + "&amp;sc_camp=" + hex(rng.next(), 16) + "\" style=\"display:inline-block;background-color:" + color(rng) +
           ";color:#ffffff;padding:12px 24px;border-radius:" + std::to_string(rng.range(0, 8)) +
           "px;text-decoration:none;font-weight:bold;\">" + sentence(rng, 2, 4) + "</a>\n        </td>\n      </tr>\n";
}

std::string chunk_image(Rng& rng) {
    return "      <tr>\n        <td style=\"padding:0;\">\n          <img src=\"/-/media/Email/" + slug(rng) + "/" +
           rng.pick(kImageStems) + "-" + std::to_string(rng.range(1, 99)) + ".jpg?h=" +
           std::to_string(rng.range(80, 400)) + "&amp;w=600&amp;hash=" + hex(rng.next(), 16) +
           "\" alt=\"" + sentence(rng, 2, 6) + "\" width=\"600\" style=\"display:block;border:0;outline:none;width:100%;height:auto;\" />\n" +
           "        </td>\n      </tr>\n";
}

std::string chunk_columns(Rng& rng) {
    std::string s = "      <tr>\n        <td>\n          <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\">\n            <tr>\n";
    for (int i = 0, n = static_cast<int>(rng.range(2, 3)); i < n; ++i)
        s += "              <td valign=\"top\" width=\"" + std::to_string(100 / n) + "%\" style=\"" + td_style(rng) +
             "\">\n                <h3 style=\"margin:0 0 8px 0;\">" + sentence(rng, 2, 5) + "</h3>\n                " +
             sentence(rng, 10, 25) + "\n              </td>\n";
    return s + "            </tr>\n          </table>\n        </td>\n      </tr>\n";
}

std::string chunk_spacer(Rng& rng) {
    std::string h = std::to_string(rng.range(8, 48));
    return "      <tr>\n        <td height=\"" + h + "\" style=\"font-size:" + h + "px;line-height:" + h +
           "px;\">&nbsp;</td>\n      </tr>\n";
}

std::string chunk_footer(Rng& rng) {
    return "      <tr>\n        <td align=\"center\" style=\"" + td_style(rng) + "\">\n          " + sentence(rng, 6, 14) +
           "<br />\n          <a href=\"$unsubscribe_link$\" style=\"color:" + color(rng) +
           ";\">Unsubscribe</a> | <a href=\"$preferences_link$\">Preferences</a> | <a href=\"$online_version$\">View online</a>\n" +
           "        </td>\n      </tr>\n";
}

std::vector<std::string> make_pool(std::uint64_t seed) {
    Rng rng(derive_seed(seed, 1));
    std::vector<std::string> pool;
    for (int i = 0; i < 1024; ++i) {
        switch (rng.range(0, 9)) {
            case 0: case 1: case 2: case 3: pool.push_back(chunk_paragraphs(rng)); break;
            case 4: pool.push_back(chunk_button(rng)); break;
            case 5: case 6: pool.push_back(chunk_image(rng)); break;
            case 7: pool.push_back(chunk_columns(rng)); break;
            case 8: pool.push_back(chunk_spacer(rng)); break;
            default: pool.push_back(chunk_footer(rng)); break;
        }
    }
    return pool;
}

// ---------------------------------------------------------------------------
// File contents

constexpr std::string_view kHtmlFooter =
    "    </table>\n  </td></tr>\n</table>\n</body>\n</html>\n";

// The per-file part: every file gets its own id, title and styles, so no two
// generated files are identical even when they draw the same chunks.
void html_header(Rng& rng, const std::string& rel, const std::string& lang, std::string& out) {
    std::string bg = color(rng);
    out += "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" "
           "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n";
    out += "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"" + lang + "\">\n<head>\n";
    out += "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\" />\n";
    out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\" />\n";
    out += "<title>" + sentence(rng, 3, 8) + "</title>\n";
    out += "<!-- exm template " + rel + " id " + hex(rng.next(), 16) + hex(rng.next(), 16) + " -->\n";
    out += "<style type=\"text/css\">\n  body { margin:0; padding:0; background-color:" + bg + "; }\n";
    out += "  table, td { border-collapse:collapse; mso-table-lspace:0pt; mso-table-rspace:0pt; }\n";
    out += "  .content { width:" + std::to_string(rng.range(560, 680)) + "px; }\n";
    out += "  @media only screen and (max-width:" + std::to_string(rng.range(480, 640)) +
           "px) { .content { width:100% !important; } }\n</style>\n</head>\n";
    out += "<body style=\"margin:0;padding:0;background-color:" + bg + ";\">\n";
    out += "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\">\n";
    out += "  <tr><td align=\"center\">\n";
    out += "    <table role=\"presentation\" class=\"content\" width=\"600\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\">\n";
}

// An HTML email of exactly `size` bytes (or a little more when `size` is below
// the header and footer): header, pool chunks, a padding comment, footer.
void make_html(Rng& rng, const std::vector<std::string>& pool, const std::string& rel,
               const std::string& lang, size_t size, std::string& out) {
    out.clear();
    html_header(rng, rel, lang, out);
    const size_t body_end = size > kHtmlFooter.size() ? size - kHtmlFooter.size() : 0;
    for (;;) {
        const std::string& c = pool[rng.range(0, pool.size() - 1)];
        if (out.size() + c.size() > body_end) break;
        out += c;
    }
    // Fill the gap with a comment cut from another chunk (chunks hold no "--").
    if (out.size() + 10 <= body_end) {
        size_t n = body_end - out.size() - 10;
        out += "<!-- ";
        while (n > 0) {
            const std::string& c = pool[rng.range(0, pool.size() - 1)];
            size_t take = std::min(n, c.size());
            out.append(c, 0, take);
            n -= take;
        }
        out += " -->\n";
    }
    if (out.size() < body_end) out.append(body_end - out.size(), '\n');
    out += kHtmlFooter;
}

// Random bytes behind a real magic number: incompressible, like real images.
void make_image(Rng& rng, const std::string& ext, size_t size, std::string& out) {
    out.resize(size);
    for (size_t i = 0; i < size; i += 8) {
        std::uint64_t v = rng.next();
        std::memcpy(out.data() + i, &v, std::min<size_t>(8, size - i));
    }
    std::string_view magic = ext == ".png"   ? std::string_view("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16)
                             : ext == ".gif" ? std::string_view("GIF89a")
                                             : std::string_view("\xFF\xD8\xFF\xE0\0\x10JFIF\0", 11);
    std::memcpy(out.data(), magic.data(), std::min(magic.size(), size));
}

std::string make_config(Rng& rng, const std::string& name) {
    std::string s = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
    s += "<!-- " + name + ": Email Experience Manager settings. -->\n";
    s += "<configuration xmlns:patch=\"http://www.sitecore.net/xmlconfig/\" "
         "xmlns:role=\"http://www.sitecore.net/xmlconfig/role/\">\n";
    s += "  <sitecore role:require=\"Standalone or ContentManagement or DedicatedDispatch\">\n    <settings>\n";
    const char* settings[] = {"EXM.DispatchTimeout", "EXM.MaxGenerationThreads", "EXM.SendingThrottle",
                              "EXM.MaxSendingThreads", "EXM.ProcessingRetryDelay", "EXM.SmtpPort",
                              "EXM.DefaultCampaignLanguage", "EXM.SupressionListEnabled"};
    for (const char* key : settings)
        if (rng.percent(70))
            s += "      <setting name=\"" + std::string(key) + "\" value=\"" + std::to_string(rng.range(1, 500)) + "\" />\n";
    s += "    </settings>\n  </sitecore>\n</configuration>\n";
    return s;
}

// ---------------------------------------------------------------------------
// Writing

struct Totals {
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;
};

[[noreturn]] void die(int code, const std::string& msg) {
    std::fprintf(stderr, "exmsync-gentree: %s\n", msg.c_str());
    std::exit(code);
}

void write_file(const fs::path& path, std::string_view data) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) die(1, "cannot create " + path.string() + ": " + std::strerror(errno));
    bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) die(1, "cannot write " + path.string() + ": " + std::strerror(errno));
}

std::string read_file(const fs::path& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) die(1, "cannot open " + path.string() + ": " + std::strerror(errno));
    std::string data;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
    std::fclose(f);
    return data;
}

// ---------------------------------------------------------------------------
// Generating a new tree

struct Folder {
    std::string rel;   // relative to DIR, '/'-separated
    std::string lang;  // for the <html lang>
    int files;
};

// The folders of one campaign: 1-3 locales, each holding files directly
// (depth 2), or in message folders (depth 3), or in variants of those (depth 4).
std::vector<Folder> campaign_folders(Rng& rng, std::uint64_t number) {
    std::vector<Folder> out;
    const std::string campaign = "Imported/campaign-" + padded(number, 3);
    const size_t first_locale = rng.range(0, kLocales.size() - 1);
    for (size_t l = 0, nl = rng.range(1, 3); l < nl; ++l) {
        const std::string& lang = kLocales[(first_locale + l) % kLocales.size()];
        const std::string base = campaign + "/" + lang;
        const auto depth = rng.range(2, 4);
        if (depth == 2) {
            out.push_back({base, lang, static_cast<int>(rng.range(10, 30))});
            continue;
        }
        const size_t first_msg = rng.range(0, kMessages.size() - 1);
        for (size_t m = 0, nm = rng.range(1, 3); m < nm; ++m) {
            const std::string msg = base + "/" + kMessages[(first_msg + m) % kMessages.size()];
            if (depth == 3) {
                out.push_back({msg, lang, static_cast<int>(rng.range(10, 30))});
                continue;
            }
            for (size_t v = 0, nv = rng.range(1, 2); v < nv; ++v)
                out.push_back({msg + "/" + kVariants[(first_msg + m + v) % kVariants.size()], lang,
                               static_cast<int>(rng.range(10, 30))});
        }
    }
    return out;
}

// One template or image in `folder`; index k keeps names unique in the folder.
void generate_file(Rng& rng, const std::vector<std::string>& pool, const fs::path& root,
                   const Folder& folder, int k, std::string& buf, Totals& totals) {
    std::string rel;
    if (rng.percent(10)) {
        static const std::vector<std::string> exts = {".png", ".jpg", ".gif"};
        const std::string& ext = rng.pick(exts);
        rel = folder.rel + "/" + rng.pick(kImageStems) + "-" + padded(k, 2) + ext;
        make_image(rng, ext, rng.skewed(5 * 1024, 200 * 1024), buf);
    } else {
        rel = folder.rel + "/" + slug(rng) + "-" + padded(k, 2) + ".html";
        make_html(rng, pool, rel, folder.lang, rng.skewed(2 * 1024, 60 * 1024), buf);
    }
    write_file(root / rel, buf);
    totals.files++;
    totals.bytes += buf.size();
}

void generate_configs(Rng& rng, const fs::path& root, std::uint64_t limit, Totals& totals) {
    static const std::vector<std::string> names = {
        "Sitecore.EmailExperience.Core.config", "Sitecore.EmailExperience.ContentManagement.config",
        "Sitecore.EmailExperience.ContentManagementPrimary.config", "Sitecore.EmailExperience.ContentDelivery.config",
        "Sitecore.EmailExperience.ExperienceAnalytics.config", "Sitecore.EDS.Providers.CustomSmtp.config",
    };
    const fs::path dir = root / "App_Config/Include/EmailExperience";
    fs::create_directories(dir);
    for (size_t i = 0; i < names.size() && totals.files < limit; ++i) {
        std::string text = make_config(rng, names[i]);
        write_file(dir / names[i], text);
        totals.files++;
        totals.bytes += text.size();
    }
}

void require_empty(const fs::path& root) {
    std::error_code ec;
    if (!fs::exists(root, ec)) return;
    if (!fs::is_directory(root, ec))
        die(2, root.string() + " exists and is not a directory; give a new or empty directory");
    if (!fs::is_empty(root, ec))
        die(2, root.string() + " exists and is not empty; give a new or empty directory");
}

Totals generate(const fs::path& root, std::uint64_t files, std::uint64_t seed) {
    require_empty(root);
    fs::create_directories(root);
    const auto pool = make_pool(seed);
    Rng rng(derive_seed(seed, 2));
    Totals totals;
    generate_configs(rng, root, files, totals);
    std::string buf;
    for (std::uint64_t campaign = 1; totals.files < files; ++campaign) {
        for (const Folder& folder : campaign_folders(rng, campaign)) {
            fs::create_directories(root / folder.rel);
            for (int k = 1; k <= folder.files && totals.files < files; ++k)
                generate_file(rng, pool, root, folder, k, buf, totals);
            if (totals.files >= files) break;
        }
    }
    return totals;
}

// ---------------------------------------------------------------------------
// Mutating an existing tree

struct MutateCounts {
    std::uint64_t modified_same = 0, modified_resized = 0, added = 0, deleted = 0, renamed = 0;
};

// Every regular file under root except the exmsync state folder, sorted by
// path so the choice of files does not depend on directory order.
std::vector<std::string> list_files(const fs::path& root) {
    std::vector<std::string> files;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
        if (it->is_directory() && it->path().filename() == ".exmsync") {
            it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file() && !it->is_symlink())
            files.push_back(it->path().lexically_relative(root).generic_string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

bool is_image(const fs::path& p) {
    auto e = p.extension();
    return e == ".png" || e == ".jpg" || e == ".gif";
}

// A name not yet taken in `dir`: "<stem>-<tag>.<ext>", then "-<tag>-2", ...
fs::path fresh_name(const fs::path& dir, const std::string& stem, const std::string& tag, const std::string& ext) {
    fs::path p = dir / (stem + "-" + tag + ext);
    for (int i = 2; fs::exists(p); ++i) p = dir / (stem + "-" + tag + "-" + std::to_string(i) + ext);
    return p;
}

// Regenerate the file's content with `size` bytes. Small non-HTML text (the
// configs) is edited in place instead: a run of letters in its middle changes.
void rewrite(Rng& rng, const std::vector<std::string>& pool, const fs::path& root,
             const std::string& rel, size_t old_size, size_t size, std::string& buf) {
    const fs::path path = root / rel;
    if (is_image(path)) {
        make_image(rng, path.extension().string(), size, buf);
    } else if (path.extension() == ".html" && size >= 2048) {
        make_html(rng, pool, rel, "en", size, buf);
    } else {
        buf = read_file(path);
        buf.resize(size, '\n');
        const size_t kept = std::min(old_size, size);  // bytes both versions share
        const size_t n = std::min<size_t>(32, kept);
        const size_t at = kept > n ? rng.range(0, kept - n) / 2 : 0;
        for (size_t i = at; i < at + n; ++i) {
            char c = static_cast<char>('a' + rng.range(0, 25));
            buf[i] = c == buf[i] ? (c == 'z' ? 'a' : c + 1) : c;  // always a change
        }
    }
    write_file(path, buf);
}

void add_file(Rng& rng, const std::vector<std::string>& pool, const fs::path& root, const std::string& near,
              std::uint64_t seed, std::string& buf) {
    const fs::path dir = (root / near).parent_path();
    const std::string tag = "s" + std::to_string(seed);
    if (rng.percent(10)) {
        const std::string ext = rng.percent(50) ? ".png" : ".jpg";
        make_image(rng, ext, rng.skewed(5 * 1024, 200 * 1024), buf);
        write_file(fresh_name(dir, rng.pick(kImageStems), tag, ext), buf);
    } else {
        const fs::path path = fresh_name(dir, slug(rng), tag, ".html");
        make_html(rng, pool, path.lexically_relative(root).generic_string(), "en",
                  rng.skewed(2 * 1024, 60 * 1024), buf);
        write_file(path, buf);
    }
}

// Same content under a new name; one rename in four moves to another folder.
void rename_file(Rng& rng, const fs::path& root, const std::string& rel,
                 const std::vector<std::string>& files, std::uint64_t seed) {
    const fs::path from = root / rel;
    fs::path dir = from.parent_path();
    if (rng.percent(25)) dir = (root / rng.pick(files)).parent_path();
    const std::string stem = rng.percent(50) ? from.stem().string() : slug(rng);
    fs::rename(from, fresh_name(dir, stem, "r" + std::to_string(seed), from.extension().string()));
}

MutateCounts mutate(const fs::path& root, double percent, std::uint64_t seed) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) die(2, root.string() + " is not a directory; --mutate needs an existing tree");
    std::vector<std::string> files = list_files(root);
    auto count = static_cast<std::uint64_t>(files.size() * percent / 100.0 + 0.5);
    if (percent > 0 && count == 0 && !files.empty()) count = 1;
    count = std::min<std::uint64_t>(count, files.size());

    // Partial Fisher-Yates over a copy: the first `count` entries are the victims.
    std::vector<std::string> chosen = files;
    Rng rng(derive_seed(seed, 3));
    for (std::uint64_t i = 0; i < count; ++i) std::swap(chosen[i], chosen[rng.range(i, chosen.size() - 1)]);
    chosen.resize(count);

    const auto pool = make_pool(seed);
    MutateCounts counts;
    std::string buf;
    for (std::uint64_t i = 0; i < count; ++i) {
        const std::string& rel = chosen[i];
        switch (i % 4) {  // an even split of the four kinds of change
            case 0: {
                const size_t old_size = fs::file_size(root / rel);
                const bool same = rng.percent(50);
                const size_t delta = rng.range(1, std::max<size_t>(1, old_size / 5));
                const size_t size = same ? old_size : (rng.percent(50) || old_size <= delta ? old_size + delta : old_size - delta);
                rewrite(rng, pool, root, rel, old_size, size, buf);
                ++(same ? counts.modified_same : counts.modified_resized);
                break;
            }
            case 1: add_file(rng, pool, root, rel, seed, buf); ++counts.added; break;
            case 2: fs::remove(root / rel); ++counts.deleted; break;
            default: rename_file(rng, root, rel, files, seed); ++counts.renamed; break;
        }
    }
    return counts;
}

Totals measure(const fs::path& root) {
    Totals t;
    for (const std::string& rel : list_files(root)) {
        t.files++;
        t.bytes += fs::file_size(root / rel);
    }
    return t;
}

// ---------------------------------------------------------------------------
// Command line

constexpr const char* kUsage =
    "usage: exmsync-gentree DIR [--files N] [--seed S] | exmsync-gentree --mutate PERCENT [--seed S] DIR";

struct Options {
    std::string dir;
    std::uint64_t files = 100000;
    std::uint64_t seed = 1;
    bool mutate = false;
    double percent = 0;
};

std::uint64_t parse_count(const std::string& flag, const char* text) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-')
        die(2, flag + " needs a non-negative integer, got '" + text + "'");
    return v;
}

Options parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "-h" || a == "--help") {
            std::printf("%s\n", kUsage);
            std::exit(0);
        } else if (a == "--files" && has_value) {
            o.files = parse_count(a, argv[++i]);
        } else if (a == "--seed" && has_value) {
            o.seed = parse_count(a, argv[++i]);
        } else if (a == "--mutate" && has_value) {
            char* end = nullptr;
            o.percent = std::strtod(argv[++i], &end);
            if (end == argv[i] || *end || !(o.percent >= 0 && o.percent <= 100))
                die(2, std::string("--mutate needs a percentage from 0 to 100, got '") + argv[i] + "'");
            o.mutate = true;
        } else if (!a.empty() && a[0] == '-') {
            die(2, "unknown or incomplete option '" + a + "'; " + kUsage);
        } else if (o.dir.empty()) {
            o.dir = a;
        } else {
            die(2, "more than one DIR given ('" + o.dir + "', '" + a + "'); " + kUsage);
        }
    }
    if (o.dir.empty()) die(2, std::string("no DIR given; ") + kUsage);
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse_args(argc, argv);
    const auto start = std::chrono::steady_clock::now();
    try {
        if (o.mutate) {
            const MutateCounts c = mutate(o.dir, o.percent, o.seed);
            const Totals t = measure(o.dir);
            std::fprintf(stderr,
                         "exmsync-gentree: mutated %g%% of %s (seed %llu): %llu modified same size, %llu resized, "
                         "%llu added, %llu deleted, %llu renamed; now %llu files, %llu bytes\n",
                         o.percent, o.dir.c_str(), static_cast<unsigned long long>(o.seed),
                         static_cast<unsigned long long>(c.modified_same), static_cast<unsigned long long>(c.modified_resized),
                         static_cast<unsigned long long>(c.added), static_cast<unsigned long long>(c.deleted),
                         static_cast<unsigned long long>(c.renamed), static_cast<unsigned long long>(t.files),
                         static_cast<unsigned long long>(t.bytes));
        } else {
            const Totals t = generate(o.dir, o.files, o.seed);
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            std::fprintf(stderr, "exmsync-gentree: %s: %llu files, %llu bytes (%.2f GiB), seed %llu, %.1f s\n",
                         o.dir.c_str(), static_cast<unsigned long long>(t.files),
                         static_cast<unsigned long long>(t.bytes), t.bytes / 1073741824.0,
                         static_cast<unsigned long long>(o.seed), secs);
        }
    } catch (const fs::filesystem_error& e) {
        die(1, e.what());
    }
    return 0;
}
