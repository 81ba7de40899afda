// Sequence filters (filters_seq.cpp) and text filters (filters_text.cpp), registered in
// filters.cpp.
#pragma once

#include "transformers/chat/context.h"

namespace transformers::jinja::filters {

#define TCPP_JINJA_FILTER(name) Value name(Context& ctx, const Value& v, CallArgs& a)
TCPP_JINJA_FILTER(f_list);
TCPP_JINJA_FILTER(f_join);
TCPP_JINJA_FILTER(f_first);
TCPP_JINJA_FILTER(f_last);
TCPP_JINJA_FILTER(f_map);
TCPP_JINJA_FILTER(f_select);
TCPP_JINJA_FILTER(f_reject);
TCPP_JINJA_FILTER(f_selectattr);
TCPP_JINJA_FILTER(f_rejectattr);
TCPP_JINJA_FILTER(f_items);
TCPP_JINJA_FILTER(f_dictsort);
TCPP_JINJA_FILTER(f_unique);
TCPP_JINJA_FILTER(f_sort);
TCPP_JINJA_FILTER(f_reverse);
TCPP_JINJA_FILTER(f_sum);
TCPP_JINJA_FILTER(f_min);
TCPP_JINJA_FILTER(f_max);
TCPP_JINJA_FILTER(f_batch);
TCPP_JINJA_FILTER(f_slice);
TCPP_JINJA_FILTER(f_groupby);
TCPP_JINJA_FILTER(f_xmlattr);
TCPP_JINJA_FILTER(f_urlencode);
// filters_text.cpp
TCPP_JINJA_FILTER(f_wordwrap);
TCPP_JINJA_FILTER(f_urlize);
TCPP_JINJA_FILTER(f_pprint);
TCPP_JINJA_FILTER(f_striptags);
TCPP_JINJA_FILTER(f_random);
#undef TCPP_JINJA_FILTER

}  // namespace transformers::jinja::filters
